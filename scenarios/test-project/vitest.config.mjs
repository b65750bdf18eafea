// The test files use describe/it as globals (like Jest and Mocha), and CommonJS.
export default { test: { globals: true, include: ['test/**/*.test.js'] } };
