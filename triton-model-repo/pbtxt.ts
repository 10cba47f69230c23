/**
 * A reader for the subset of protobuf text format that Triton's config.pbtxt files use:
 *
 *   name: "clip_vision"          scalar (string, number, true/false, or an enum name such as TYPE_FP32)
 *   dims: [ 3, 224, 224 ]        list of scalars
 *   input [ { ... }, { ... } ]   list of messages (the colon is optional before `{` and `[`)
 *   dynamic_batching { ... }     message
 *   # comment                    to the end of the line
 *
 * A field that occurs more than once becomes an array. The result is a plain object keyed by field name,
 * ready for protobufjs' `fromObject` (enum names stay strings). Maps are written in text format as
 * repeated `{ key: … value: … }` entries; `entriesToMap` turns such a list into an object.
 */

export type PbValue = string | number | boolean | PbMessage | PbValue[];
export interface PbMessage {
  [field: string]: PbValue;
}

type Token =
  | { kind: 'ident'; text: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'punct'; text: string; at: number };

export class PbtxtError extends Error {}

export function parsePbtxt(source: string): PbMessage {
  const tokens = tokenize(source);
  let pos = 0;
  const lineOf = (at: number) => source.slice(0, at).split('\n').length;
  const fail = (message: string, token: Token | undefined): never => {
    throw new PbtxtError(`${message} at line ${token ? lineOf(token.at) : lineOf(source.length)}`);
  };
  const peek = () => tokens[pos];
  const isPunct = (token: Token | undefined, text: string) => token?.kind === 'punct' && token.text === text;
  const expectPunct = (text: string) => {
    const token = tokens[pos++];
    if (!isPunct(token, text)) fail(`expected '${text}'`, token);
  };

  const scalar = (): PbValue => {
    const token = tokens[pos++];
    if (!token) return fail('expected a value', token);
    switch (token.kind) {
      case 'number':
      case 'string':
        return token.value;
      case 'ident':
        return token.text === 'true' ? true : token.text === 'false' ? false : token.text;
      case 'punct':
        return fail(`unexpected '${token.text}'`, token);
    }
  };

  const value = (): PbValue => {
    const token = peek();
    if (isPunct(token, '{')) {
      pos++;
      const message = fields('}');
      expectPunct('}');
      return message;
    }
    if (isPunct(token, '[')) {
      pos++;
      const list: PbValue[] = [];
      while (!isPunct(peek(), ']')) {
        list.push(value());
        if (isPunct(peek(), ',')) pos++;
        else if (!isPunct(peek(), ']')) fail("expected ',' or ']'", peek());
      }
      pos++;
      return list;
    }
    return scalar();
  };

  const fields = (end: '}' | undefined): PbMessage => {
    const message: PbMessage = {};
    while (pos < tokens.length && !(end && isPunct(peek(), end))) {
      const name = tokens[pos++];
      if (name?.kind !== 'ident') return fail('expected a field name', name);
      if (isPunct(peek(), ':')) pos++;
      else if (!isPunct(peek(), '{') && !isPunct(peek(), '['))
        fail(`expected ':' after ${name.text}`, peek());
      const parsed = value();
      const previous = message[name.text];
      if (previous === undefined) message[name.text] = parsed;
      else if (Array.isArray(previous) && Array.isArray(parsed)) previous.push(...parsed);
      else if (Array.isArray(previous)) previous.push(parsed);
      else message[name.text] = Array.isArray(parsed) ? [previous, ...parsed] : [previous, parsed];
      // Text format also allows ';' or ',' between fields.
      if (isPunct(peek(), ';') || isPunct(peek(), ',')) pos++;
    }
    if (end && pos >= tokens.length) fail(`expected '${end}'`, undefined);
    return message;
  };

  return fields(undefined);
}

/** `[{ key: "a", value: "1" }, …]` (a map in text format) → `{ a: "1" }`. */
export function entriesToMap(entries: PbValue | undefined): Record<string, PbValue> {
  const list = entries === undefined ? [] : Array.isArray(entries) ? entries : [entries];
  const out: Record<string, PbValue> = {};
  for (const entry of list) {
    if (
      typeof entry !== 'object' ||
      Array.isArray(entry) ||
      typeof entry.key !== 'string' ||
      entry.value === undefined
    ) {
      throw new PbtxtError('a map entry must be { key: "…" value: … }');
    }
    out[entry.key] = entry.value;
  }
  return out;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s+|#[^\n]*|(?<ident>[A-Za-z_][A-Za-z0-9_.]*)|(?<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?<punct>[{}[\]:,;<>])/y;
  let at = 0;
  while (at < source.length) {
    pattern.lastIndex = at;
    const match = pattern.exec(source);
    if (!match)
      throw new PbtxtError(
        `unexpected character '${source[at]}' at line ${source.slice(0, at).split('\n').length}`,
      );
    const groups = match.groups ?? {};
    if (groups.ident !== undefined) tokens.push({ kind: 'ident', text: groups.ident, at });
    else if (groups.number !== undefined) tokens.push({ kind: 'number', value: Number(groups.number), at });
    else if (groups.string !== undefined) tokens.push({ kind: 'string', value: unquote(groups.string), at });
    else if (groups.punct !== undefined)
      tokens.push({
        kind: 'punct',
        text: groups.punct === '<' ? '{' : groups.punct === '>' ? '}' : groups.punct,
        at,
      });
    at = pattern.lastIndex;
  }
  return tokens;
}

function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, escape: string) => {
    if (escape.startsWith('x')) return String.fromCharCode(parseInt(escape.slice(1), 16));
    if (/^[0-7]+$/.test(escape)) return String.fromCharCode(parseInt(escape, 8));
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', "'": "'", '\\': '\\' };
    return simple[escape] ?? escape;
  });
}
