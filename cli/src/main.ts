console.log('clip-search: not yet');
