/** Types of scripts/test.mjs (the `npm test` launcher), for its unit test. */
export declare const ISOLATION_ENV: string;
export declare function onlyLoopback(names: readonly string[]): boolean;
export declare function decide(facts: { interfaces: readonly string[]; reexecuted: boolean; unshareWorks: boolean; ci: boolean }): 'isolated' | 'unshare' | 'refuse' | 'unisolated';
