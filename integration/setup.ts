import { jest } from '@jest/globals';

// Integration tests start real processes (named, containerd, iptables in namespaces); each test bounds its
// own waits, this is only the outer limit.
jest.setTimeout(180_000);
