"""A faithful pure-Python model of vLLM v1's prefix-cache block pool, for comparison.

Mirrors vllm/v1/core/block_pool.py + kv_cache_utils.py (FreeKVCacheBlockQueue): blocks are
objects with ref_cnt and a block hash; the free list is an intrusive doubly linked list
threaded through the block objects with sentinel head and tail (evict = pop from the head,
a request's blocks are freed tail first and appended at the tail); a dict maps block hash
to block; a cache hit on a free block ("touch") unlinks it from the free list.
Two block hashes: "builtin" = hash((parent, tokens)) and "sha256" = vLLM's default
sha256(pickle.dumps((parent, tokens, extra))) digest.
"""
import hashlib
import pickle

NONE_HASH = b"\x00" * 32  # vLLM seeds the root parent hash once per process


class KVCacheBlock:
    __slots__ = ("block_id", "ref_cnt", "block_hash", "prev_free_block", "next_free_block")

    def __init__(self, block_id):
        self.block_id = block_id
        self.ref_cnt = 0
        self.block_hash = None
        self.prev_free_block = None
        self.next_free_block = None


class FreeKVCacheBlockQueue:
    """Doubly linked free list with fake head and tail (vLLM's FreeKVCacheBlockQueue)."""

    def __init__(self, blocks):
        self.num_free_blocks = len(blocks)
        self.fake_head = KVCacheBlock(-1)
        self.fake_tail = KVCacheBlock(-1)
        prev = self.fake_head
        for b in blocks:
            prev.next_free_block = b
            b.prev_free_block = prev
            prev = b
        prev.next_free_block = self.fake_tail
        self.fake_tail.prev_free_block = prev

    def popleft_n(self, n):
        out = []
        cur = self.fake_head.next_free_block
        for _ in range(n):
            out.append(cur)
            nxt = cur.next_free_block
            cur.prev_free_block = cur.next_free_block = None
            cur = nxt
        self.fake_head.next_free_block = cur
        cur.prev_free_block = self.fake_head
        self.num_free_blocks -= n
        return out

    def remove(self, block):
        block.prev_free_block.next_free_block = block.next_free_block
        block.next_free_block.prev_free_block = block.prev_free_block
        block.prev_free_block = block.next_free_block = None
        self.num_free_blocks -= 1

    def append_n(self, blocks):
        if not blocks:
            return
        last = self.fake_tail.prev_free_block
        for b in blocks:
            b.prev_free_block = last
            last.next_free_block = b
            last = b
        last.next_free_block = self.fake_tail
        self.fake_tail.prev_free_block = last
        self.num_free_blocks += len(blocks)


class BlockPool:
    def __init__(self, num_blocks):
        self.blocks = [KVCacheBlock(i) for i in range(num_blocks)]
        self.free_block_queue = FreeKVCacheBlockQueue(self.blocks)
        self.cached_block_hash_to_block = {}
        self.evictions = 0

    def get_computed_blocks(self, hashes):
        cached = self.cached_block_hash_to_block
        out = []
        for h in hashes:
            b = cached.get(h)
            if b is None:
                break
            out.append(b)
        return out

    def touch(self, blocks):
        q = self.free_block_queue
        for b in blocks:
            if b.ref_cnt == 0:
                q.remove(b)
            b.ref_cnt += 1

    def get_new_blocks(self, n):
        if n > self.free_block_queue.num_free_blocks:
            raise ValueError(f"Cannot get {n} free blocks from the pool")
        ret = self.free_block_queue.popleft_n(n)
        cached = self.cached_block_hash_to_block
        for b in ret:
            h = b.block_hash
            if h is not None:  # _maybe_evict_cached_block
                if cached.get(h) is b:
                    del cached[h]
                b.block_hash = None
                self.evictions += 1
            b.ref_cnt += 1
        return ret

    def cache_full_blocks(self, blocks, hashes):
        cached = self.cached_block_hash_to_block
        for b, h in zip(blocks, hashes):
            b.block_hash = h
            if h not in cached:
                cached[h] = b

    def free_blocks(self, ordered_blocks):
        free = []
        for b in ordered_blocks:
            b.ref_cnt -= 1
            if b.ref_cnt == 0:
                free.append(b)
        self.free_block_queue.append_n(free)


def hashes_builtin(tokens, block_size):
    """hash((parent, block tokens)) per full block, chained (vLLM's hash_request_tokens
    with Python's built-in hash)."""
    parent = None
    out = []
    for i in range(0, len(tokens) - block_size + 1, block_size):
        parent = hash((parent, tuple(tokens[i:i + block_size])))
        out.append(parent)
    return out


def hashes_sha256(tokens, block_size):
    """vLLM's default block hash: sha256(pickle((parent, block tokens, extra_keys)))."""
    parent = NONE_HASH
    out = []
    dumps, sha256, proto = pickle.dumps, hashlib.sha256, pickle.HIGHEST_PROTOCOL
    for i in range(0, len(tokens) - block_size + 1, block_size):
        parent = sha256(dumps((parent, tuple(tokens[i:i + block_size]), None),
                              protocol=proto)).digest()
        out.append(parent)
    return out


def replay(requests, capacity, block_size, hasher):
    """The kvbm replay model on the vLLM pool; @requests are token lists.
    Returns (hits, no_room_blocks, evictions)."""
    pool = BlockPool(capacity)
    hits = no_room = 0
    for tokens in requests:
        hashes = hasher(tokens, block_size)
        computed = pool.get_computed_blocks(hashes)
        pool.touch(computed)
        k = len(computed)
        hits += k
        need = len(hashes) - k
        if need > pool.free_block_queue.num_free_blocks:
            no_room += need
            pool.free_blocks(reversed(computed))
            continue
        new = pool.get_new_blocks(need)
        pool.cache_full_blocks(new, hashes[k:])
        computed.extend(new)
        pool.free_blocks(reversed(computed))
    return hits, no_room, pool.evictions
