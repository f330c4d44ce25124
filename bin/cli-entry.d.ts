/** The compiled CLI module to import for `main` (the bundle while current), or undefined when dist/ holds no build. */
export function cliEntry(dist: URL): URL | undefined;
