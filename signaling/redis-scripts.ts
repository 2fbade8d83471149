/**
 * The Lua scripts the Redis backplane runs: each step that must be atomic across instances
 * (a cap checked and a peer registered, an entry removed only by its owner) is one script.
 * Time is Redis's own clock (TIME), so instances' clocks never disagree about expiry.
 * Redis stores ("PREFIX" is the configured prefix):
 *   PREFIX:instances    sorted set, instance → deadline (ms): alive until then
 *   PREFIX:rooms        sorted set, room → deadline: rooms some instance has peers in
 *   PREFIX:room:ROOM    hash, node id → "<instance> <addr>…" (expires unless refreshed)
 *   PREFIX:src:SOURCE   hash, instance → joined connections from SOURCE (IP or /64)
 *   PREFIX:joins:SOURCE counter of joins from SOURCE in the current second
 * Entries left by a dead instance are ignored at once (its deadline passed) and removed by
 * whoever meets them; keys nobody refreshes expire.
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function live(inst)
  local s = redis.call('ZSCORE', KEYS[3], inst)
  return s ~= false and tonumber(s) > now
end
`;

/**
 * KEYS: room hash, rooms, instances, source hash, join counter.
 * ARGV: id, entry, instance, room, maxPeersPerRoom, maxRooms, maxPerSource, joinsPerSecond,
 * ttlMs, room channel, join event, counted ('1': count against the source), rated ('1':
 * count against the source's joins per second).
 * Returns 'ok' or the refusal's error code.
 */
export const JOIN = `${NOW}
local counted = ARGV[12] == '1'
if ARGV[13] == '1' then
  local n = redis.call('INCR', KEYS[5])
  if n == 1 then redis.call('PEXPIRE', KEYS[5], 1000) end
  if n > tonumber(ARGV[8]) then return 'rate-limited' end
end
local roomScore = redis.call('ZSCORE', KEYS[2], ARGV[4])
if roomScore == false or tonumber(roomScore) <= now then
  if redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') >= tonumber(ARGV[6]) then return 'too-many-rooms' end
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if not live(string.sub(all[i + 1], 1, 16)) then redis.call('HDEL', KEYS[1], all[i]) end
  end
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return 'room-full' end
end
if counted then
  local all = redis.call('HGETALL', KEYS[4])
  local total = 0
  for i = 1, #all, 2 do
    if live(all[i]) then total = total + (tonumber(all[i + 1]) or 0) else redis.call('HDEL', KEYS[4], all[i]) end
  end
  if total >= tonumber(ARGV[7]) then return 'source-full' end
  redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
  redis.call('PEXPIRE', KEYS[4], ARGV[9])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[9])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[9]), ARGV[4])
redis.call('PUBLISH', ARGV[10], ARGV[11])
return 'ok'`;

/**
 * KEYS: room hash, source hash. ARGV: id, instance, room channel, leave event, counted.
 * Removes the entry only if this instance still owns it (the node may have moved on).
 */
export const LEAVE = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, 16) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
if ARGV[5] == '1' and redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return 1`;

/**
 * KEYS: instances, rooms. ARGV: instance, ttlMs, prefix, number of rooms, rooms…, sources….
 * Renews this instance and its rooms and sources; returns {was it still alive (0/1), live
 * instances (at most 1,000)}.
 */
export const HEARTBEAT = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
local wasLive = 0
if prev ~= false and tonumber(prev) > now then wasLive = 1 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local rooms = tonumber(ARGV[4])
for i = 5, 4 + rooms do
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[i])
  redis.call('PEXPIRE', ARGV[3] .. ':room:' .. ARGV[i], ttl)
end
for i = 5 + rooms, #ARGV do redis.call('PEXPIRE', ARGV[3] .. ':src:' .. ARGV[i], ttl) end
return { wasLive, redis.call('ZRANGE', KEYS[1], 0, 999) }`;

/** KEYS: room hash. ARGV: dead instance, ids…: removes those entries it still owns. */
export const REAP = `for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and string.sub(v, 1, 16) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1`;

/**
 * KEYS: room hash, instances. Returns the room's entries (field, value, …) of live instances
 * only, at most `ARGV[1]` of them: a reader never lists a dead instance's peers, and sees an
 * instance that registered a moment ago.
 */
export const READ = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
local live = {}
for i = 1, #all, 2 do
  local inst = string.sub(all[i + 1], 1, 16)
  if live[inst] == nil then
    local s = redis.call('ZSCORE', KEYS[2], inst)
    live[inst] = s ~= false and tonumber(s) > now
  end
  if live[inst] and #out < 2 * tonumber(ARGV[1]) then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out`;
