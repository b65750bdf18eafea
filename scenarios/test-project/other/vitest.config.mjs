// Vitest runs every file of the second suite, CommonJS and ES modules.
export default { test: { globals: true, root: import.meta.dirname, include: ['test/**/*.test.{js,mjs}'] } };
