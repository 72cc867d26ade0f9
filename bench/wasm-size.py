#!/usr/bin/env python3
"""Where a wasm's bytes are: its sections, and its code by function, grouped or searched.

  python3 bench/wasm-size.py FILE                 sections, then code bytes by leading path
  python3 bench/wasm-size.py FILE top [N]         the N largest functions
  python3 bench/wasm-size.py FILE grep REGEX [N]  functions whose name matches, and their total

Names come from the wasm's name section, so read a build that keeps it: `worker-build
--profile wasm --no-opt -d <dir>` (scripts/build.sh's wasm-opt step strips it), or cargo's own
output under target/wasm32-unknown-unknown/wasm/. Symbols are demangled with binutils'
c++filt; a build with RUSTFLAGS="-C symbol-mangling-version=v0" (in its own CARGO_TARGET_DIR)
names the generic types of each copy too (BENCHMARKS.md, "A smaller worker").
"""
import collections
import re
import subprocess
import sys


def leb(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def read(path):
    data = open(path, 'rb').read()
    i, sections, sizes, names, imported = 8, [], [], {}, 0
    while i < len(data):
        kind = data[i]
        size, i = leb(data, i + 1)
        end, label = i + size, str(kind)
        if kind == 0:
            length, j = leb(data, i)
            label = 'custom:' + data[j:j + length].decode()
            j += length
            while label == 'custom:name' and j < end:
                sub, (sub_size, j) = data[j], leb(data, j + 1)
                if sub == 1:
                    count, k = leb(data, j)
                    for _ in range(count):
                        index, k = leb(data, k)
                        length, k = leb(data, k)
                        names[index] = data[k:k + length].decode('utf8', 'replace')
                        k += length
                j += sub_size
        elif kind == 2:  # imports: functions among them take the first indexes
            count, j = leb(data, i)
            for _ in range(count):
                for _ in range(2):
                    length, j = leb(data, j)
                    j += length
                what = data[j]
                j += 1
                if what == 0:
                    _, j = leb(data, j)
                    imported += 1
                elif what in (1, 2):
                    j += 1 if what == 1 else 0
                    flags = data[j]
                    _, j = leb(data, j + 1)
                    if flags & 1:
                        _, j = leb(data, j)
                elif what == 3:
                    j += 2
                else:
                    _, j = leb(data, j + 1)
        elif kind == 10:
            count, j = leb(data, i)
            for n in range(count):
                length, j = leb(data, j)
                sizes.append((imported + n, length))
                j += length
        sections.append((label, size))
        i = end
    return len(data), sections, sizes, names


def main():
    total, sections, sizes, names = read(sys.argv[1])
    raw = [names.get(index, f'function {index}') for index, _ in sizes]
    demangled = subprocess.run(['c++filt', '--format=rust'], input='\n'.join(raw),
                               capture_output=True, text=True, check=True).stdout.split('\n')
    functions = [(re.sub(r'::h[0-9a-f]{16}$', '', name), size)
                 for name, (_, size) in zip(demangled, sizes)]
    functions.sort(key=lambda f: -f[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else 'paths'
    if mode == 'top':
        for name, size in functions[:int(sys.argv[3]) if len(sys.argv) > 3 else 40]:
            print(f'{size:>8,} {name[:200]}')
        return
    if mode == 'grep':
        pattern, shown = re.compile(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 40
        matched = [(n, s) for n, s in functions if pattern.search(n)]
        for name, size in matched[:shown]:
            print(f'{size:>8,} {name[:200]}')
        print(f'{len(matched)} functions, {sum(s for _, s in matched):,} bytes')
        return
    print(f'{total:,} bytes')
    for label, size in sections:
        print(f'  section {label:<28} {size:>10,}')
    print(f'{len(functions)} functions, {sum(s for _, s in functions):,} bytes of code, by path:')
    groups, counts = collections.Counter(), collections.Counter()
    for name, size in functions:
        parts = re.sub(r'\[[0-9a-f]{16}\]', '', name.lstrip('<')).split('::')
        key = '::'.join(parts[:2])[:70]
        groups[key] += size
        counts[key] += 1
    for key, size in groups.most_common(40):
        print(f'{size:>10,} {counts[key]:>6} {key}')


if __name__ == '__main__':
    main()
