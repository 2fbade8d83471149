import { describe, expect, it } from 'vitest';
import { sdpFingerprint } from '../../lib/webrtc/peer-channel.ts';

describe('DTLS fingerprint extraction (channel binding)', () => {
  it('reads the fingerprint line of an SDP, normalized', () => {
    const sdp = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:SHA-256 4f:3a:50:E7\r\na=setup:actpass\r\n';
    expect(new TextDecoder().decode(sdpFingerprint(sdp))).toBe('sha-256 4F:3A:50:E7');
  });

  it('differs when the fingerprint differs, and is empty without one', () => {
    const a = sdpFingerprint('a=fingerprint:sha-256 AA:BB\r\n');
    const b = sdpFingerprint('a=fingerprint:sha-256 AA:BC\r\n');
    expect(a).not.toEqual(b);
    expect(sdpFingerprint('v=0\r\n')).toHaveLength(0);
    expect(sdpFingerprint(undefined)).toHaveLength(0);
  });
});
