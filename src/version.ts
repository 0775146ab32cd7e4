/** The package's version (test/version.test.ts keeps it equal to package.json's). */
export const version = "0.1.0"
