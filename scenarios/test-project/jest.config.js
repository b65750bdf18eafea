// The eight files of test/: other/ is a second suite with its own configs
// (`jest --config other/jest.config.js`), which Jest's default testMatch would find too.
module.exports = { testPathIgnorePatterns: ['/node_modules/', '<rootDir>/other/'] };
