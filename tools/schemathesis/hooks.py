"""Schemathesis hooks for the clip-search gateway (loaded through SCHEMATHESIS_HOOKS).

Custom checks, on top of Schemathesis' own:
- ``problem_body_size``: an error body is at most CLIP_SEARCH_PROBLEM_MAX_BYTES (the cap the gateway puts on
  problem+json bodies, so that a validation error never echoes a megabyte of the caller's input back);
- ``error_is_problem_json``: every 4xx/5xx is RFC 9457 problem+json with a stable type URI and the HTTP
  status repeated in the body.

Generation, so that the checks test the API rather than the fuzzer's luck:
- real ids: random strings almost never name an indexed item or job, so the item and job routes would only
  ever answer 404. The test passes real ids (CLIP_SEARCH_ITEM_IDS, CLIP_SEARCH_JOB_IDS, comma-separated)
  and read-only operations draw them half of the time. DELETE keeps random ids: deleting the corpus early
  would leave every later operation without data.
- positive cases get what the schema means but OpenAPI cannot say: an image that decodes (an upload, an
  `imageBase64`, an `imageUrl`), a vector of the model's dimension, weights that are not all zero and at
  most IMAGE_URL_MAX_PER_REQUEST `imageUrl` terms (rules across terms), non-empty filter field
  names and ingest metadata within the gateway's limits (OpenAPI 3.0 has no `propertyNames` and cannot
  bound a free-form object's depth or size). Negative cases are left as generated.
- multipart: every form value is text on the wire, so a boolean sent in a string field arrives as the
  string "false" and is rightly accepted; that one "schema-violating request accepted" is dropped.
- loopback only: every `imageUrl` that a URL parser could read as http(s) is pointed at the test's own image
  server (CLIP_SEARCH_IMAGE_URL), so fuzzing never makes the gateway fetch from the network.

Every variable is optional: without them the checks still run (e.g. against a server started by hand).
"""

import base64
import json
import re
import os
import struct
import zlib
from urllib.parse import quote

import schemathesis
from hypothesis import strategies as st

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://clip-search.dev/problems/"
# Must equal the gateway's cap on problem+json bodies (8 KiB).
PROBLEM_MAX_BYTES = int(os.environ.get("CLIP_SEARCH_PROBLEM_MAX_BYTES", "8192"))


def _ids(variable):
    return [value for value in os.environ.get(variable, "").split(",") if value]


ITEM_IDS = _ids("CLIP_SEARCH_ITEM_IDS")
JOB_IDS = _ids("CLIP_SEARCH_JOB_IDS")
IMAGE_URL = os.environ.get("CLIP_SEARCH_IMAGE_URL", "")
DIM = int(os.environ.get("CLIP_SEARCH_DIM", "0"))
# IMAGE_URL_MAX_PER_REQUEST of the gateway under test: a rule across terms.
MAX_IMAGE_URLS = int(os.environ.get("CLIP_SEARCH_MAX_IMAGE_URLS", "16"))


def _png(width, height):
    """A small valid RGB PNG (a gradient), built here so the hooks need no file."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 16 % 256, y * 16 % 256, 128)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = _png(16, 16)
PNG_BASE64 = base64.b64encode(PNG).decode("ascii")


def _content_type(response):
    values = response.headers.get("content-type") or [""]
    return values[0].split(";")[0].strip().lower()


@schemathesis.check
def problem_body_size(ctx, response, case):
    """An error body (problem+json) is at most PROBLEM_MAX_BYTES bytes."""
    if response.status_code < 400 and _content_type(response) != PROBLEM_JSON:
        return None
    if response.content_size > PROBLEM_MAX_BYTES:
        raise AssertionError(
            f"{response.status_code} error body of {response.content_size} bytes exceeds the "
            f"{PROBLEM_MAX_BYTES}-byte cap on problem+json bodies"
        )
    return None


@schemathesis.check
def error_is_problem_json(ctx, response, case):
    """A 4xx/5xx is problem+json: a type under PROBLEM_TYPE_BASE, a title, and the HTTP status."""
    if response.status_code < 400:
        return None
    content_type = _content_type(response)
    if content_type != PROBLEM_JSON:
        raise AssertionError(f"{response.status_code} answered as {content_type or 'no content type'}")
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"problem+json body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise AssertionError("problem+json body is not an object")
    problem_type = body.get("type")
    if not isinstance(problem_type, str) or not problem_type.startswith(PROBLEM_TYPE_BASE):
        raise AssertionError(f"problem type {problem_type!r} is not under {PROBLEM_TYPE_BASE}")
    if body.get("status") != response.status_code:
        raise AssertionError(f"problem status {body.get('status')!r} != HTTP status {response.status_code}")
    if not isinstance(body.get("title"), str):
        raise AssertionError("problem has no title")
    return None


@schemathesis.hook
def before_generate_path_parameters(context, strategy):
    operation = context.operation
    if operation is None or operation.method.upper() != "GET":
        return strategy
    ids = []
    if operation.path.startswith("/v1/items/{id}"):
        ids = ITEM_IDS
    elif operation.path == "/v1/ingest/{id}":
        ids = JOB_IDS
    if not ids:
        return strategy
    return st.one_of(strategy, st.fixed_dictionaries({"id": st.sampled_from(ids)}))


def _may_be_http_url(value):
    # WHATWG URL parsing (the gateway's) drops tabs and newlines anywhere and C0 controls and spaces at
    # both ends, and reads the scheme case-insensitively: judge the string as it would.
    cleaned = "".join(c for c in value if c not in "\t\n\r").strip("".join(map(chr, range(0x21))))
    return cleaned.lower().startswith("http")


def _loopback_url(value):
    return f"{IMAGE_URL.rstrip('/')}/{quote(value[:200], safe='')}"


def _is_positive(case):
    return case.meta is not None and case.meta.generation.mode.is_positive


def _repair_term(term):
    if "imageBase64" in term:
        term["imageBase64"] = PNG_BASE64
    if "imageUrl" in term and IMAGE_URL:
        term["imageUrl"] = _loopback_url("image.png")
    vector = term.get("vector")
    if isinstance(vector, list) and DIM > 0:
        values = [v for v in vector if isinstance(v, (int, float))] or [1.0]
        resized = [float(values[i % len(values)]) for i in range(DIM)]
        if not any(resized):
            resized[0] = 1.0
        term["vector"] = resized


def _nonzero_weights(terms):
    # Weights are "any finite number", but terms whose weights are all zero (or so small that float32
    # embeddings times them are zero) add up to no direction at all: a rule across terms.
    weights = [term.get("weight", 1) for term in terms if isinstance(term, dict)]
    numeric = [w for w in weights if isinstance(w, (int, float)) and not isinstance(w, bool)]
    if terms and isinstance(terms[0], dict) and len(numeric) == len(weights):
        if all(abs(w) < 1e-20 for w in numeric):
            terms[0]["weight"] = 1.0


def _cap_image_urls(terms):
    """At most MAX_IMAGE_URLS `imageUrl` terms; the others become text terms of the same weight."""
    seen = 0
    for term in terms:
        if isinstance(term, dict) and "imageUrl" in term:
            seen += 1
            if seen > MAX_IMAGE_URLS:
                term["text"] = "fuzz"
                del term["imageUrl"]


def _utf16_length(text):
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _metadata_within_limits(metadata, depth=0):
    """The gateway's metadata limits that OpenAPI 3.0 cannot state for a free-form object (keys 1-64
    characters, strings up to 1024, nesting up to 4 levels, 4 KB of JSON), checked a little tighter."""
    if isinstance(metadata, str):
        return _utf16_length(metadata) <= 1024
    if isinstance(metadata, list):
        return depth < 4 and all(_metadata_within_limits(v, depth + 1) for v in metadata)
    if isinstance(metadata, dict):
        if depth == 0:
            if len(metadata) > 32 or any(not 1 <= _utf16_length(k) <= 64 for k in metadata):
                return False
            encoded = json.dumps(metadata, separators=(",", ":")).encode("utf-8", "surrogatepass")
            if len(encoded) > 3500:
                return False
        return depth < 4 and all(_metadata_within_limits(v, depth + 1) for v in metadata.values())
    return True


def _name_filter_fields(body):
    # A filter key names a metadata field, so it cannot be empty; OpenAPI 3.0 has no `propertyNames`.
    conditions = body.get("filter")
    if isinstance(conditions, dict) and "" in conditions:
        conditions["_"] = conditions.pop("")


@schemathesis.hook
def map_case(context, case):
    operation = f"{case.method.upper()} {case.operation.path}"
    body = case.body
    if operation == "POST /v1/search" and isinstance(body, dict):
        query = body.get("query")
        terms = query if isinstance(query, list) else []
        if IMAGE_URL:
            for term in terms:
                url = term.get("imageUrl") if isinstance(term, dict) else None
                if isinstance(url, str) and _may_be_http_url(url):
                    term["imageUrl"] = _loopback_url(url)
        if _is_positive(case):
            for term in terms:
                if isinstance(term, dict):
                    _repair_term(term)
            _nonzero_weights(terms)
            _cap_image_urls(terms)
            _name_filter_fields(body)
    elif operation == "POST /v1/search/image" and isinstance(body, dict) and _is_positive(case):
        if "image" in body:
            body["image"] = PNG
    elif operation == "POST /v1/ingest" and isinstance(body, dict) and _is_positive(case):
        if "metadata" in body and not _metadata_within_limits(body["metadata"]):
            body["metadata"] = {"album": "fuzz"}
    return case


def _declared_required(case):
    """The `required` list of the operation's inline request body schema, or None."""
    try:
        content = case.operation.definition.raw["requestBody"]["content"]
        return list(content[case.media_type]["schema"].get("required", []))
    except (AttributeError, KeyError, TypeError):
        return None


_WIRE_TEXT_TYPE = re.compile(r"violates `type` at /properties/[^ ]+ \(was string, became (?:boolean|integer|number)\)")


def _only_wire_text_types(message, case):
    """Every value of a multipart form is text on the wire: a boolean `false` sent in a string field
    arrives as the string "false", which the field rightly accepts."""
    if case.media_type != "multipart/form-data":
        return False
    violations = [line for line in message.splitlines() if "violates" in line]
    return bool(violations) and all(_WIRE_TEXT_TYPE.search(line) for line in violations)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    # Schemathesis' negative mode sometimes adds an optional field to `required` and then sends a body
    # without it: the body is valid for the real schema, so accepting it is right. Only that exact
    # false positive is dropped: a `required` violation whose body has every field the document requires.
    message = failure.message or ""
    if failure.code == "ST201" and _only_wire_text_types(message, case):
        return False
    if failure.code != "ST201" or "violates `required`" not in message or message.count("violates") != 1:
        return True
    required = _declared_required(case)
    if required is None or not isinstance(case.body, dict):
        return True
    return not all(field in case.body for field in required)

