#!/usr/bin/env python3
"""make_lm_seeds.py — tiny GGUF seeds for fuzz_gguf, rewritten from a real GGUF:
    make_lm_seeds.py STORIES260K.gguf OUT_DIR

Keeps the real file's metadata (tokenizer included, so the vocabulary is real), sets the
llama.* shapes to a toy model and writes seeded random F32 weights of those shapes:
  tiny_tied.gguf     dim 8, hidden 16, 1 layer, 2 heads, 1 KV head, no output.weight
  tiny_untied.gguf   the same with an output.weight and 2 layers
  tiny_f16.gguf      the tied one with F16 weights (the converter widens them)
A mutation of a 20 KB input runs far faster than one of the 1.2 MB original."""
import random
import struct
import sys

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
FMT = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q',
       11: '<q', 12: '<d'}


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def u32(self):
        return struct.unpack('<I', self.take(4))[0]

    def u64(self):
        return struct.unpack('<Q', self.take(8))[0]

    def string(self):
        return self.take(self.u64())

    def value(self, t):
        """Skips one value of type t; returns it (scalars and strings only)."""
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.u32(), self.u64()
            for _ in range(n):
                self.value(et)
            return None
        return struct.unpack(FMT[t], self.take(SIZES[t]))[0]


def read_kvs(path):
    r = Reader(open(path, 'rb').read())
    assert r.take(4) == b'GGUF'
    version, _n_tensors, n_kv = r.u32(), r.u64(), r.u64()
    kvs = []
    for _ in range(n_kv):
        start = r.p
        key = r.string().decode()
        t = r.u32()
        r.value(t)
        kvs.append((key, r.b[start:r.p]))
    return version, kvs


def kv_u32(key, v):
    k = key.encode()
    return struct.pack('<Q', len(k)) + k + struct.pack('<II', 4, v)


def write(path, version, kvs, shape, untied, layers, ftype):
    dim, hidden, heads, kv_heads, ctx = shape
    vocab = 512
    override = {'llama.embedding_length': dim, 'llama.feed_forward_length': hidden,
                'llama.block_count': layers, 'llama.attention.head_count': heads,
                'llama.attention.head_count_kv': kv_heads, 'llama.context_length': ctx,
                'llama.rope.dimension_count': dim // heads}
    out_kvs = [kv_u32(k, override[k]) if k in override else raw for k, raw in kvs
               if k in override or not k.startswith('llama.')]
    for k, raw in kvs:  # keep the non-shape llama.* keys (rope base, norm epsilon)
        if k.startswith('llama.') and k not in override:
            out_kvs.append(raw)
    for k in override:
        if all(k != key for key, _ in kvs):
            out_kvs.append(kv_u32(k, override[k]))
    kvd = dim // heads * kv_heads
    tensors = [('token_embd.weight', [dim, vocab]), ('output_norm.weight', [dim])]
    if untied:
        tensors.append(('output.weight', [dim, vocab]))
    for l in range(layers):
        b = 'blk.%d.' % l
        tensors += [(b + 'attn_norm.weight', [dim]), (b + 'attn_q.weight', [dim, dim]),
                    (b + 'attn_k.weight', [dim, kvd]), (b + 'attn_v.weight', [dim, kvd]),
                    (b + 'attn_output.weight', [dim, dim]), (b + 'ffn_norm.weight', [dim]),
                    (b + 'ffn_gate.weight', [dim, hidden]), (b + 'ffn_down.weight', [hidden, dim]),
                    (b + 'ffn_up.weight', [dim, hidden])]
    rng = random.Random(len(tensors) * 7919 + ftype)
    esize = 4 if ftype == 0 else 2
    infos, blobs, off = b'', b'', 0
    for name, ne in tensors:
        n = 1
        for d in ne:
            n *= d
        vals = [1.0] * n if name.endswith('norm.weight') else [rng.uniform(-0.5, 0.5) for _ in range(n)]
        data = struct.pack('<%d%s' % (n, 'f' if ftype == 0 else 'e'), *vals)
        data += b'\0' * (-len(data) % 32)
        nm = name.encode()
        infos += struct.pack('<Q', len(nm)) + nm + struct.pack('<I', len(ne))
        infos += b''.join(struct.pack('<Q', d) for d in ne) + struct.pack('<IQ', ftype, off)
        blobs += data
        off += len(data)
    head = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(out_kvs)) + b''.join(out_kvs) + infos
    head += b'\0' * (-len(head) % 32)
    with open(path, 'wb') as f:
        f.write(head + blobs)


def main():
    src, out = sys.argv[1], sys.argv[2]
    version, kvs = read_kvs(src)
    write(out + '/tiny_tied.gguf', version, kvs, (8, 16, 2, 1, 32), False, 1, 0)
    write(out + '/tiny_untied.gguf', version, kvs, (8, 16, 2, 1, 32), True, 2, 0)
    write(out + '/tiny_f16.gguf', version, kvs, (8, 16, 2, 1, 32), False, 1, 1)


if __name__ == '__main__':
    main()
