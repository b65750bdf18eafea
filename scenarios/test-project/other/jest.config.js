// Jest runs the CommonJS files of the second suite (Jest needs --experimental-vm-modules
// for .mjs test files).
module.exports = { rootDir: __dirname, testMatch: ['<rootDir>/test/**/*.test.js'] };
