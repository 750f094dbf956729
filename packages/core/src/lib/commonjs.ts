/**
 * A CommonJS package's exports, from its dynamic import. Node offers them both as named exports
 * and as the default export; a chunk of a bundle (the server's production build, which loads such
 * packages lazily in chunks of their own) as the default export only. For packages that have no
 * default export of their own.
 */
export function commonJsExports<T extends object>(namespace: T): T {
  return (namespace as { default?: T }).default ?? namespace;
}
