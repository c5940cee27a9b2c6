// Three projects: fast unit specs beside the code; end-to-end suites against a real broker and database (their
// global setup starts the chain as separate processes and stops it afterwards); and end-to-end suites that bring
// their own broker or cluster, chain and database (test/own-broker), which `npm test` runs beside the others.
const moduleNameMapper = { '^@app/(contracts|kafka|platform|service)(|/.*)$': '<rootDir>/libs/$1/src$2' };
// Type checking is `npm run typecheck`'s job (npm test runs it first); jest only transpiles.
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true }, diagnostics: false }] };

module.exports = {
  // End-to-end tests wait on conditions with their own deadlines; this is only the outer bound.
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/scripts', '<rootDir>/docker'],
      testMatch: ['**/*.spec.ts'],
      moduleNameMapper,
      transform,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.e2e-spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/own-broker/'],
      moduleNameMapper,
      transform,
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      displayName: 'own-broker',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/own-broker'],
      testMatch: ['**/*.e2e-spec.ts'],
      moduleNameMapper,
      transform,
    },
  ],
};
