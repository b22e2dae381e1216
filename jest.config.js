import { createDefaultEsmPreset } from 'ts-jest';

const preset = createDefaultEsmPreset({ tsconfig: 'tsconfig.check.json' });

const moduleNameMapper = {
  '^@zonewright/(.*)$': '<rootDir>/packages/$1/src/index.ts',
  '^(\\.{1,2}/.*)\\.js$': '$1',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...preset,
      displayName: 'unit',
      testEnvironment: 'node',
      moduleNameMapper,
      testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'],
    },
    {
      ...preset,
      displayName: 'integration',
      testEnvironment: 'node',
      moduleNameMapper,
      testMatch: ['<rootDir>/integration/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/integration/setup.ts'],
    },
  ],
};
