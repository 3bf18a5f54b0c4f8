"""The Lua scripts the store runs on the server: each a step of the lease or a fenced commit."""

from __future__ import annotations

# KEYS: lock, version. ARGV: token, ttl (ms). The version (0 when never written)
# once the lease is ours, else nil. Taking a lease we already hold renews it, so
# a retried call whose first reply was lost still succeeds.
ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('GET', KEYS[2]) or '0'
"""

# KEYS: lock. ARGV: token, ttl (ms). 1 when the lease was ours and now lasts ttl again.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock, version. ARGV: token, the version read under the lease, ttl (ms).
# 'ok' (and the lease lasts ttl again) while the lease is ours and nobody committed
# since we read; else 'lease' or 'version'.
CONFIRM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'lease'
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then
  return 'version'
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'ok'
"""

# KEYS: lock. ARGV: token. 1 when our lease was removed; another's is never touched.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: lock, version, record. ARGV: token, the version read under the lease,
# 'save' or 'delete', the record's bytes (save).
# -> {1, new version, 1 when a record existed before}: committed;
#    {0, 'lease'}: another writer holds the lease now; {0, 'version'}: another writer
#    committed since we read. Nothing is written then.
# A lease that merely expired (nobody took it, nobody committed) still commits:
# the tokens it carries may be the only live ones, and the version proves that no
# one else wrote; a writer that takes the lease later confirms the version before
# it sends anything, and so adopts them.
# A retried commit whose first reply was lost finds its own write (the lease
# still ours, the version moved, the record already as asked) and reports it
# as committed.
# A missing version starts from the server's clock in microseconds, so that a
# Redis restarted empty never hands out a fingerprint it gave before.
# The record is written last: Redis does not undo a script's writes when a later
# command fails (a command an ACL forbids, memory full), and a version moved alone
# only makes the others read the same record again, whereas a record written
# without its version would be one nobody is fenced against. A record write that
# fails puts the version back (as read) and fails the commit with its error: a
# moved version would otherwise read as another writer's commit at the retry.
COMMIT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, 'lease'}
end
local version = redis.call('GET', KEYS[2]) or '0'
local record = redis.call('GET', KEYS[3])
if version ~= ARGV[2] then
  if (ARGV[3] == 'save' and record == ARGV[4]) or (ARGV[3] == 'delete' and not record) then
    return {1, version, 1}
  end
  return {0, 'version'}
end
if ARGV[3] == 'delete' and not record then
  return {1, version, 0}
end
if version == '0' then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], now[1] .. string.rep('0', 6 - #now[2]) .. now[2])
end
local committed = redis.call('INCR', KEYS[2])
local written
if ARGV[3] == 'delete' then
  written = redis.pcall('DEL', KEYS[3])
else
  written = redis.pcall('SET', KEYS[3], ARGV[4])
end
if type(written) == 'table' and written.err then
  redis.call('SET', KEYS[2], version)
  return redis.error_reply(written.err)
end
return {1, committed, record and 1 or 0}
"""
