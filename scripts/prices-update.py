#!/usr/bin/env python3
"""`npm run prices:update`: refresh the bundled LiteLLM layer of the built-in price catalog.

Downloads the newest `litellm` release from PyPI with pip (or uses `--wheel`/`--json`), reads
its bundled `model_prices_and_context_window_backup.json`, and updates
`data/litellm-prices.tsv` without rewriting history:

- a model never seen before is added with its first price effective from FIRST_SEEN (LiteLLM
  keeps no history, and no event of it was ever priced by this layer);
- a model whose prices changed gets a new line effective from the refresh day (`--date`,
  default today, UTC); the old line stays, so events before that day keep their price;
- a model LiteLLM dropped keeps its lines (events of it stay priced) and is reported.

It prints the added, changed and removed models; `git diff data/litellm-prices.tsv` shows the
same. Only the fields the conversion reads are kept (`is_priced_field` in
crates/core/src/pricing/litellm.rs: keep the two rules equal).
"""
import argparse, datetime, decimal, glob, json, os, re, subprocess, sys, tempfile, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TSV = os.path.join(ROOT, 'data', 'litellm-prices.tsv')
MEMBER = 'litellm/model_prices_and_context_window_backup.json'
FIRST_SEEN = '2000-01-01'
TOKEN = ['input_cost_per_token', 'output_cost_per_token', 'cache_read_input_token_cost',
         'cache_creation_input_token_cost', 'output_cost_per_reasoning_token',
         'input_cost_per_audio_token', 'output_cost_per_audio_token']
OTHER = ['input_cost_per_character', 'output_cost_per_character', 'input_cost_per_second',
         'output_cost_per_second', 'input_cost_per_image', 'output_cost_per_image',
         'input_cost_per_request']
TIER = re.compile(r'^(%s)_above_\d+k_tokens$' % '|'.join(TOKEN))
NAME = re.compile(r'^[^\s=]+$')


def priced(field):
    return field in TOKEN or field in OTHER or bool(TIER.match(field))


def download(tmp, version=None):
    """The newest litellm wheel (or `version`'s) from PyPI, with pip, into `tmp`."""
    spec = f'litellm=={version}' if version else 'litellm'
    subprocess.run([sys.executable, '-m', 'pip', 'download', spec, '--no-deps',
                    '--only-binary', ':all:', '-q', '-d', tmp], check=True)
    wheels = sorted(glob.glob(os.path.join(tmp, f'litellm-{version or ""}*.whl')))
    if not wheels:
        sys.exit('prices:update: pip downloaded no litellm wheel')
    return wheels[-1]


def fetch_json(version, out):
    """Writes the price file of litellm `version` to `out`, downloading its wheel once into
    .tools/litellm/ (ignored by git): the coverage test's set-up (tests/prices-coverage)."""
    cache = os.path.join(ROOT, '.tools', 'litellm')
    os.makedirs(cache, exist_ok=True)
    wheels = glob.glob(os.path.join(cache, f'litellm-{version}-*.whl'))
    wheel = wheels[0] if wheels else download(cache, version)
    _, text = read_wheel(wheel)
    with open(out, 'w', encoding='utf-8') as f:
        f.write(text)


def read_wheel(path):
    version = os.path.basename(path).split('-')[1]
    with zipfile.ZipFile(path) as z:
        text = z.read(MEMBER).decode('utf-8')
    return version, text


def fields_of(spec):
    out = []
    for f, v in spec.items():
        if priced(f) and isinstance(v, str) and not isinstance(v, bool):
            out.append(f'{f}={v}')
    return ' '.join(sorted(out))


def same_prices(a, b):
    """Whether two price columns hold the same prices: numbers compared by value, so a
    release that writes `0.0000021` as `2.1e-06` changes nothing."""
    def values(column):
        out = {}
        for pair in column.split(' '):
            field, _, text = pair.partition('=')
            try:
                out[field] = decimal.Decimal(text)
            except decimal.InvalidOperation:
                out[field] = text
        return out
    return values(a) == values(b)


def read_tsv(path=TSV):
    header, lines = {}, []
    if not os.path.exists(path):
        return header, lines
    with open(path, encoding='utf-8') as f:
        for raw in f:
            raw = raw.rstrip('\n')
            if raw.startswith('# litellm '):
                parts = raw.split()
                header = {'version': parts[2], 'read_on': parts[4]}
            elif raw and not raw.startswith('#'):
                lines.append(raw.split('\t'))
    return header, lines


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--wheel', help='a downloaded litellm wheel instead of pip download')
    p.add_argument('--json', help='a price file instead of a wheel (needs --version)')
    p.add_argument('--version', help='the litellm version of --json')
    p.add_argument('--tsv', default=TSV, help='the layer file to update (tests use a copy)')
    p.add_argument('--date', default=datetime.datetime.now(datetime.timezone.utc).date().isoformat())
    p.add_argument('--fetch-json', metavar='OUT',
                   help='only write the price file of litellm --version to OUT (cached wheel)')
    args = p.parse_args()
    if args.fetch_json:
        if not args.version:
            sys.exit('prices:update: --fetch-json needs --version')
        fetch_json(args.version, args.fetch_json)
        return
    if args.json:
        version, text = args.version or 'unknown', open(args.json, encoding='utf-8').read()
    elif args.wheel:
        version, text = read_wheel(args.wheel)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            version, text = read_wheel(download(tmp))
    data = json.loads(text, parse_float=str, parse_int=str)
    header, lines = read_tsv(args.tsv)
    latest = {}
    for line in lines:
        latest[line[1]] = line  # lines are sorted by key, then date
    added, changed, seen = [], [], set()
    for key, spec in data.items():
        if key == 'sample_spec' or not isinstance(spec, dict) or not NAME.match(key):
            continue
        prices = fields_of(spec)
        if not prices:
            continue
        seen.add(key)
        label = spec.get('litellm_provider') or ''
        mode = spec.get('mode') or ''
        old = latest.get(key)
        if old is None:
            lines.append([FIRST_SEEN, key, label, mode, prices])
            added.append(key)
        elif not same_prices(old[4], prices) or old[2] != label or old[3] != mode:
            if old[0] == args.date:
                lines.remove(old)  # a second refresh on one day replaces that day's line
            lines.append([args.date, key, label, mode, prices])
            changed.append(key)
    removed = sorted(k for k in latest if k not in seen)
    lines.sort(key=lambda l: (l[1], l[0]))
    with open(args.tsv, 'w', encoding='utf-8') as f:
        f.write('# LiteLLM price layer of the built-in catalog: model prices from the litellm package\n')
        f.write('# on PyPI (model_prices_and_context_window_backup.json), by BerriAI, MIT License.\n')
        f.write('# Written by `npm run prices:update`; do not edit by hand (curated prices go in\n')
        f.write('# data/prices.json, which wins). Columns: effective_from, key, litellm_provider,\n')
        f.write('# mode, prices (LiteLLM field=value, as LiteLLM wrote the number).\n')
        f.write(f'# litellm {version} read_on {args.date}\n')
        for line in lines:
            f.write('\t'.join(line) + '\n')
    print(f'litellm {header.get("version", "(none)")} -> {version}: '
          f'{len(added)} added, {len(changed)} changed, {len(removed)} removed')
    for title, keys in (('added', added), ('changed', changed), ('removed', removed)):
        for key in sorted(keys):
            print(f'  {title}: {key}')


if __name__ == '__main__':
    main()
