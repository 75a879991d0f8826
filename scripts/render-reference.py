#!/usr/bin/env python3
# Copyright: kvmnet developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render one module's reference page as GitHub-flavoured Markdown.

Input: `ansible-doc --json -t module <fqcn>...` on stdin (the docs of the
shipped plugins/modules/<name>.py, themselves generated from the module's
types). Output: <out>/<name>.md per module and <out>/README.md, the index.

Why not antsibull-docs' own output: its only GitHub-oriented format,
simplified-rst, puts the option and return-value tables in `.. raw:: html`
blocks, and GitHub renders reStructuredText with raw blocks disabled, so the
tables would not show. Markup (O(), V(), C(), M(), ...) goes through
antsibull-docs-parser, the parser antsibull-docs itself uses.

Usage: render-reference.py <out dir> <guides dir> < ansible-doc.json
  <guides dir>: docs/modules, where the hand-written guides <name>.md are;
  each page links to its guide (as ../modules/<name>.md), if there is one.
"""

from __future__ import annotations

import json
import os
import re
import sys

import yaml
from antsibull_docs_parser import dom
from antsibull_docs_parser.format import Formatter, LinkProvider, format_paragraphs
from antsibull_docs_parser.parser import Context, parse

COLLECTION = 'kvmnet.network'
# Markdown specials that can start markup anywhere in a line (`_` inside
# words is plain text in GitHub's Markdown, and option names are full of it).
_ESCAPE = re.compile(r'([\\`*\[\]<>|])')


def esc(text: str) -> str:
    return _ESCAPE.sub(r'\\\1', text)


def code(text: str) -> str:
    """Inline code that survives backticks inside."""
    ticks = '``' if '`' in text else '`'
    pad = ' ' if text.startswith('`') or text.endswith('`') else ''
    return f'{ticks}{pad}{text}{pad}{ticks}'


def anchor(kind: str, path: list[str]) -> str:
    return f'{kind}-' + '/'.join(path)


class Links(LinkProvider):
    """Options and return values of this page link to their anchors; the
    collection's other modules to their pages beside this one."""

    def __init__(self, fqcn: str):
        self.fqcn = fqcn

    def plugin_link(self, plugin: dom.PluginIdentifier) -> str | None:
        if plugin.type != 'module':
            return None
        ns, name, mod = plugin.fqcn.split('.', 2)
        if f'{ns}.{name}' == COLLECTION:
            return f'{mod}.md'
        return f'https://docs.ansible.com/ansible/latest/collections/{ns}/{name}/{mod}_module.html'

    def plugin_option_like_link(self, plugin, entrypoint, what, name, current_plugin):
        if plugin.fqcn != self.fqcn:
            base = self.plugin_link(plugin)
            return base and f'{base}#{anchor("parameter" if what == "option" else "return", name)}'
        return '#' + anchor('parameter' if what == 'option' else 'return', name)


class Plain(Formatter):
    """Readable Markdown: backticks, not <code> tags; escapes only what
    GitHub would read as markup."""

    def format_error(self, part):
        return f'**ERROR while parsing**: {esc(part.message)}'

    def format_bold(self, part):
        return f'**{esc(part.text)}**'

    def format_code(self, part):
        return code(part.text)

    def format_horizontal_line(self, part):
        return '\n\n---\n\n'

    def format_italic(self, part):
        return f'*{esc(part.text)}*'

    def format_link(self, part):
        return f'[{esc(part.text)}]({part.url})'

    def format_module(self, part, url):
        return f'[{code(part.fqcn)}]({url})' if url else code(part.fqcn)

    def format_rst_ref(self, part):
        return esc(part.text)

    def format_url(self, part):
        return f'<{part.url}>'

    def format_text(self, part):
        return esc(part.text)

    def format_env_variable(self, part):
        return code(part.name)

    def _option_like(self, part, url):
        text = part.name if part.value is None else f'{part.name}={part.value}'
        text = code(text)
        return f'[{text}]({url})' if url else text

    def format_option_name(self, part, url):
        return self._option_like(part, url)

    def format_option_value(self, part):
        return code(part.value)

    def format_plugin(self, part, url):
        return f'[{code(part.plugin.fqcn)}]({url})' if url else code(part.plugin.fqcn)

    def format_return_value(self, part, url):
        return self._option_like(part, url)


class Page:
    def __init__(self, fqcn: str):
        self.fqcn = fqcn
        self.context = Context(current_plugin=dom.PluginIdentifier(fqcn=fqcn, type='module'))
        self.links = Links(fqcn)

    def md(self, text) -> list[str]:
        """Ansible markup (a string or a list of paragraphs) -> Markdown paragraphs."""
        if text is None:
            return []
        paragraphs = parse(text if isinstance(text, list) else [text], self.context, errors='message')
        out = format_paragraphs(
            paragraphs, formatter=Plain(), link_provider=self.links,
            par_start='', par_end='', par_sep='\0', par_empty='',
            current_plugin=self.context.current_plugin,
        )
        return [p.strip() for p in out.split('\0') if p.strip()]


def type_of(spec: dict) -> str:
    t = spec.get('type', 'str')
    return f'list / elements={spec["elements"]}' if t == 'list' and 'elements' in spec else t


def choices_line(page: Page, spec: dict) -> list[str]:
    choices = spec.get('choices')
    default = spec.get('default')
    if choices is None:
        if default is not None and default != [] and default != {}:
            return [f'Default: {code(json.dumps(default))}']
        return []
    if isinstance(choices, dict):   # value -> description
        lines = ['Choices:']
        for value, desc in choices.items():
            mark = ' (default)' if value == default else ''
            text = ' '.join(page.md(desc))
            lines.append(f'  - {code(str(value))}{mark}' + (f': {text}' if text else ''))
        return lines
    items = ', '.join(code(json.dumps(c) if not isinstance(c, str) else c)
                      + (' (default)' if c == default else '') for c in choices)
    return [f'Choices: {items}.']


def item(page: Page, kind: str, path: list[str], spec: dict, depth: int, extra: list[str]) -> list[str]:
    """One option or return value as a list item, its children nested."""
    ind = '  ' * depth
    head = [f'**{code(path[-1])}**', code(type_of(spec))]
    if spec.get('required'):
        head.append('required')
    if spec.get('version_added') and spec.get('version_added') != '0.1.0':
        head.append(f'added in {spec["version_added"]}')
    lines = [f'{ind}- <a id="{anchor(kind, path)}"></a>' + ' · '.join(head), '']
    body = page.md(spec.get('description')) + extra
    for line in body:
        for sub in line.split('\n'):
            lines.append(f'{ind}  {sub}' if sub else '')
        lines.append('')
    if lines[-1] != '':
        lines.append('')
    children = spec.get('suboptions') or spec.get('contains') or {}
    for name in sorted(children):
        lines += item(page, kind, path + [name], children[name], depth + 1,
                      option_extra(page, children[name]) if kind == 'parameter'
                      else return_extra(children[name]))
    return lines


def option_extra(page: Page, spec: dict) -> list[str]:
    lines = choices_line(page, spec)
    if spec.get('aliases'):
        lines.append('Aliases: ' + ', '.join(code(a) for a in spec['aliases']) + '.')
    return ['\n'.join(lines)] if lines else []


def return_extra(spec: dict) -> list[str]:
    out = [f'Returned: {esc(spec.get("returned", "always"))}.']
    if 'sample' in spec:
        sample = json.dumps(spec['sample'], indent=2, sort_keys=True)
        if '\n' in sample or len(sample) > 60:
            out.append('Sample:\n\n```json\n' + sample + '\n```')
        else:
            out.append(f'Sample: {code(sample)}')
    return out


def render(data: dict, guide: str) -> str:
    fqcn, entry = next(iter(data.items()))
    doc = entry['doc']
    page = Page(fqcn)
    name = doc['module']
    out = [
        f'# {fqcn}: {esc(doc["short_description"])}',
        '',
        f'<!-- Generated by scripts/docs-reference.sh from collection/plugins/modules/{name}.py'
        f' (itself generated by `{name} --doc`); do not edit. -->',
        '',
        f'Reference for the module `{fqcn}` of the collection `{COLLECTION}`, '
        f'new in version {doc.get("version_added", "?")}. '
        f'The same text as `ansible-doc {fqcn}`.'
        + (f' How to use it, with worked examples: [the {name} guide]({guide}).' if guide else ''),
        '',
        '- [Synopsis](#synopsis)',
    ]
    sections = [('requirements', 'Requirements'), ('parameters', 'Parameters'),
                ('attributes', 'Attributes'), ('notes', 'Notes'),
                ('examples', 'Examples'), ('return-values', 'Return values')]
    present = {'requirements': doc.get('requirements'), 'parameters': doc.get('options'),
               'attributes': doc.get('attributes'), 'notes': doc.get('notes'),
               'examples': entry.get('examples'), 'return-values': entry.get('return')}
    out += [f'- [{title}](#{slug})' for slug, title in sections if present[slug]]
    out += ['', '## Synopsis', '']
    for p in page.md(doc.get('description')):
        out += [f'- {p}', '']
    if doc.get('has_action'):
        out += ['The module has an action plugin of the same name, which runs the '
                'module binary built for the target\'s architecture.', '']

    if doc.get('requirements'):
        out += ['## Requirements', '', 'On the host that runs the module (the target):', '']
        for r in doc['requirements']:
            out += [f'- {" ".join(page.md(r))}']
        out.append('')

    if doc.get('options'):
        out += ['## Parameters', '']
        for opt in sorted(doc['options']):
            spec = doc['options'][opt]
            out += item(page, 'parameter', [opt], spec, 0, option_extra(page, spec))

    if doc.get('attributes'):
        out += ['## Attributes', '', '| Attribute | Support | Description |', '|---|---|---|']
        for attr in sorted(doc['attributes']):
            a = doc['attributes'][attr]
            support = a.get('support', '')
            if a.get('platforms'):
                plats = a['platforms']
                support += ' (' + (', '.join(plats) if isinstance(plats, list) else plats) + ')'
            desc = ' '.join(page.md(a.get('description')))
            desc += ''.join(' ' + d for d in page.md(a.get('details')))
            out.append(f'| {code(attr)} | {esc(support)} | {desc} |')
        out.append('')

    if doc.get('notes'):
        out += ['## Notes', '']
        for n in doc['notes']:
            out += [f'- {" ".join(page.md(n))}']
        out.append('')

    if entry.get('examples'):
        out += ['## Examples', '', '```yaml', entry['examples'].strip('\n'), '```', '']

    if entry.get('return'):
        out += ['## Return values', '',
                'Besides the common return values (`changed`, `failed`, `msg`, `diff`):', '']
        for rv in sorted(entry['return']):
            spec = entry['return'][rv]
            out += item(page, 'return', [rv], spec, 0, return_extra(spec))

    if doc.get('author'):
        authors = doc['author'] if isinstance(doc['author'], list) else [doc['author']]
        out += ['## Authors', ''] + [f'- {esc(a)}' for a in authors] + ['']

    text = '\n'.join(out)
    text = re.sub(r'\n{3,}', '\n\n', text)   # one blank line between blocks
    return text.rstrip('\n') + '\n'


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, guides = sys.argv[1], sys.argv[2]
    data = json.load(sys.stdin)
    index = [
        '# Module reference',
        '',
        '<!-- Generated by scripts/docs-reference.sh; do not edit. -->',
        '',
        'One page per module of `kvmnet.network`, generated from the same documentation '
        'that ships in the collection (`ansible-doc kvmnet.network.<module>` shows the same). '
        'The hand-written guides, with worked examples and how each module behaves, are in '
        '[../modules/](../modules/).',
        '',
        '| Module | Description | Guide |',
        '|---|---|---|',
    ]
    for fqcn in sorted(data):
        entry = data[fqcn]
        name = entry['doc']['module']
        # The examples are shown verbatim: they must stay valid YAML.
        if entry.get('examples'):
            yaml.safe_load(entry['examples'])
        guide = os.path.join(guides, f'{name}.md')
        # Pages live in docs/reference/, beside docs/modules/ (the out dir
        # may be a scratch copy: the link is to where the page is committed).
        link = f'../modules/{name}.md' if os.path.exists(guide) else ''
        with open(os.path.join(out_dir, f'{name}.md'), 'w', encoding='utf-8') as f:
            f.write(render({fqcn: entry}, link))
        index.append(f'| [{code(fqcn)}]({name}.md) | {esc(entry["doc"]["short_description"])} | '
                     + (f'[{name}]({link})' if link else '') + ' |')
    with open(os.path.join(out_dir, 'README.md'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(index) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
