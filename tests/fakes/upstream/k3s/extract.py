"""Extract k3s CLI flags per release line from a k3s git mirror into ``<line>.yaml`` (dev tool).

Run by hand against a bare clone holding k3s-io/k3s history (the ``fetch`` tool's mirror); the tests read
only the YAML it writes, never the mirror. It records facts only (flag names, aliases, hidden-ness, the
subcommands sealkit runs), each with the repo, commit and path it came from:

    python3 tests/fakes/upstream/k3s/extract.py --git DIR --repo k3s-io/k3s [--mirror FORK] \\
        --line v1.36 --commit FIRST --commit LAST > tests/fakes/upstream/k3s/v1.36.yaml

Several commits of one line are intersected: a flag is recorded only when every given commit defines it,
so the data never claims more than all of them share. The flags come from ``pkg/cli/cmds`` (urfave/cli v2
literals ``&cli.XFlag{Name: ..., Aliases: ...}``, by variable or inline, in the slices the commands use).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass

CMDS = "pkg/cli/cmds"
_CMD_FILES = ("server", "agent", "certs", "kubectl", "root")
_VAR_RE = re.compile(r"\b(\w+)\s*=\s*&?cli\.\w+Flag\{")
_SLICE_RE = re.compile(r"\b(\w+)\s*=\s*\[\]cli\.Flag\{")
_NAME_RE = re.compile(r'\bName:\s*"([^"]+)"')
_ALIASES_RE = re.compile(r"\bAliases:\s*\[\]string\{([^}]*)\}")
_HIDDEN_RE = re.compile(r"\bHidden:\s*true\b")
_GOMOD_K8S_RE = re.compile(r"^\s*k8s\.io/kubernetes\s*=>\s*\S+\s+(v\S+)", re.M)
_GOMOD_WHARFIE_RE = re.compile(r"^\s*github\.com/rancher/wharfie\s+(v\S+)", re.M)
_STRUCT_RE = re.compile(r"^type (\w+) struct \{(.*?)^\}", re.M | re.S)
_FIELD_RE = re.compile(r"^\s+\w+\s+(\S+)\s+`[^`]*\byaml:\"([^\",]+)[^`]*`", re.M)
WHARFIE_TYPES = "pkg/registries/types.go"
PARSER = "pkg/configfilearg/defaultparser.go"
_VALID_FLAGS_RE = re.compile(r"ValidFlags:\s*map\[string\]\[\]cli\.Flag\{([^}]*)\}")
_DEFAULT_CONFIG_RE = re.compile(r'DefaultConfig:\s*"([^"]*)"\s*\+\s*version\.Program\s*\+\s*"([^"]*)"')


@dataclass(frozen=True)
class Flag:
    name: str
    aliases: tuple[str, ...]
    hidden: bool


def git(gitdir: str, *args: str) -> str:
    return subprocess.run(["git", "-C", gitdir, *args], check=True, capture_output=True, text=True).stdout


def _block(text: str, start: int) -> str:
    """The brace-balanced text from the ``{`` at ``start`` to its ``}``, skipping Go strings and comments."""
    depth, i, n = 0, start, len(text)
    while i < n:
        c = text[i]
        if c in "\"`'":
            end = text.index(c, i + 1) if c == "`" else _string_end(text, i)
            i = end + 1
            continue
        if text.startswith("//", i):
            i = text.index("\n", i)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    raise ValueError(f"unbalanced braces from offset {start}")


def _string_end(text: str, i: int) -> int:
    quote, j = text[i], i + 1
    while text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    return j


def _elements(block: str) -> list[str]:
    """Top-level comma-separated elements of a ``{...}`` composite literal."""
    inner, out, depth, cur, i = block[1:-1], [], 0, [], 0
    while i < len(inner):
        c = inner[i]
        if c in '"`':
            end = inner.index(c, i + 1) if c == "`" else _string_end(inner, i)
            cur.append(inner[i : end + 1])
            i = end + 1
            continue
        if inner.startswith("//", i):
            i = inner.index("\n", i)
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        if c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return [e for e in out if e]


def _flag(literal: str) -> Flag:
    name = _NAME_RE.search(literal)
    if name is None:
        raise ValueError(f"flag literal without Name: {literal[:80]}")
    aliases = _ALIASES_RE.search(literal)
    names = tuple(re.findall(r'"([^"]+)"', aliases.group(1))) if aliases else ()
    return Flag(name.group(1), names, bool(_HIDDEN_RE.search(literal)))


def parse(files: dict[str, str]) -> tuple[dict[str, Flag], dict[str, list[str]]]:
    """Flag variables (name -> Flag) and flag slices (name -> element texts) of the cmds package."""
    flags: dict[str, Flag] = {}
    slices: dict[str, list[str]] = {}
    for text in files.values():
        for m in _VAR_RE.finditer(text):
            flags[m.group(1)] = _flag(_block(text, m.end() - 1))
        for m in _SLICE_RE.finditer(text):
            slices[m.group(1)] = _elements(_block(text, m.end() - 1))
    return flags, slices


def resolve(elements: list[str], flags: dict[str, Flag], slices: dict[str, list[str]]) -> list[Flag]:
    out = []
    for e in elements:
        ident = e.lstrip("&")
        if ident.startswith("cli."):
            out.append(_flag(e))
        elif ident in flags:
            out.append(flags[ident])
        elif ident.endswith("...") and ident[:-3] in slices:
            out += resolve(slices[ident[:-3]], flags, slices)
        else:
            raise ValueError(f"cannot resolve flag element {e!r}")
    return out


def command_flags(files: dict[str, str], func: str) -> list[Flag]:
    """Flags of the command that ``func`` (e.g. NewAgentCommand) builds: its ``Flags:`` slice or name."""
    flags, slices = parse(files)
    for text in files.values():
        m = re.search(rf"func {func}\(", text)
        if not m:
            continue
        body = _block(text, text.index("{", text.index(")", m.end()) + 1))
        fm = re.search(r"\bFlags:\s*(\[\]cli\.Flag\{|\w+)", body)
        if fm is None:
            raise ValueError(f"{func} has no Flags")
        if fm.group(1).startswith("[]"):
            return resolve(_elements(_block(body, fm.end() - 1)), flags, slices)
        return resolve(slices[fm.group(1)], flags, slices)
    raise ValueError(f"no func {func} in {CMDS}")


def subcommand_flags(files: dict[str, str], func: str, sub: str) -> list[Flag]:
    """Flags of subcommand ``sub`` inside the command ``func`` builds (``certificate rotate``)."""
    flags, slices = parse(files)
    for text in files.values():
        m = re.search(rf"func {func}\(", text)
        if not m:
            continue
        body = text[m.end() :]
        sm = re.search(rf'Name:\s*"{re.escape(sub)}"', body)
        if sm is None:
            raise ValueError(f"{func} has no subcommand {sub}")
        fm = re.search(r"\bFlags:\s*(\w+)", body[sm.end() :])
        if fm is None:
            raise ValueError(f"subcommand {sub} has no Flags slice")
        return resolve(slices[fm.group(1)], flags, slices)
    raise ValueError(f"no func {func} in {CMDS}")


def read_files(gitdir: str, commit: str) -> dict[str, str]:
    names = git(gitdir, "ls-tree", "--name-only", f"{commit}:{CMDS}").split()
    return {
        n: git(gitdir, "show", f"{commit}:{CMDS}/{n}")
        for n in names
        if n.endswith(".go") and not n.endswith("_test.go") and "windows" not in n
    }


def _kind(go_type: str) -> str:
    """``map[string]X`` -> ``map:X``, ``[]X`` -> ``list:X``, ``*X`` -> ``X``."""
    if go_type.startswith("map[string]"):
        return "map:" + _kind(go_type[len("map[string]") :])
    if go_type.startswith("[]"):
        return "list:" + _kind(go_type[2:])
    return go_type.lstrip("*")


def registries_schema(text: str) -> dict[str, dict[str, str]]:
    """registries.yaml types of rancher/wharfie: type -> {yaml key: kind}. k3s decodes the file with
    non-strict gopkg.in/yaml.v2 (wharfie pkg/registries/registries.go GetPrivateRegistries), so an
    unknown key is dropped silently."""
    out: dict[str, dict[str, str]] = {}
    for m in _STRUCT_RE.finditer(text):
        out[m.group(1)] = {key: _kind(typ) for typ, key in _FIELD_RE.findall(m.group(2))}
    return out


def _names(flags: list[Flag]) -> dict[str, Flag]:
    return {f.name: f for f in flags}


def extract(gitdir: str, commit: str) -> dict[str, object]:
    files = read_files(gitdir, commit)
    gomod = git(gitdir, "show", f"{commit}:go.mod")
    k8s = _GOMOD_K8S_RE.search(gomod)
    wharfie = _GOMOD_WHARFIE_RE.search(gomod)
    parser = git(gitdir, "show", f"{commit}:{PARSER}")
    valid = _VALID_FLAGS_RE.search(parser)
    default = _DEFAULT_CONFIG_RE.search(parser)
    return {
        "config_checked": sorted(re.findall(r'"([\w-]+)"\s*:', valid.group(1))) if valid else [],
        "config_default": f"{default.group(1)}k3s{default.group(2)}" if default else None,
        "kubernetes": k8s.group(1) if k8s else None,
        "wharfie": wharfie.group(1) if wharfie else None,
        "server": _names(command_flags(files, "NewServerCommand")),
        "agent": _names(command_flags(files, "NewAgentCommand")),
        "certificate rotate": _names(subcommand_flags(files, "NewCertCommands", "rotate")),
        "kubectl_skips_flag_parsing": "SkipFlagParsing: true" in files.get("kubectl.go", ""),
        # urfave/cli adds --version/-v to an app with a Version unless HideVersion is set (root.go)
        "version_flag": "app.Version =" in files.get("root.go", "") and "HideVersion" not in files["root.go"],
    }


def _emit_flags(out: list[str], key: str, per_commit: list[dict[str, Flag]]) -> None:
    common = sorted(set.intersection(*(set(p) for p in per_commit)))
    out.append(f"  {key}:")
    for name in common:
        f = per_commit[-1][name]
        attrs = []
        if f.aliases:
            attrs.append(f"aliases: [{', '.join(f.aliases)}]")
        if f.hidden:
            attrs.append("hidden: true")
        out.append(f"    {name}: {{{', '.join(attrs)}}}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--git", required=True)
    ap.add_argument("--repo", required=True, help="owner/name whose commits these are, for provenance")
    ap.add_argument("--mirror", help="owner/name of the fork the commits were read from, if not --repo")
    ap.add_argument("--line", required=True, help="release line, e.g. v1.36")
    ap.add_argument("--commit", action="append", required=True)
    ap.add_argument("--wharfie-git", required=True, help="mirror of rancher/wharfie (registries.yaml types)")
    args = ap.parse_args(argv)
    data = [(c, extract(args.git, c)) for c in args.commit]
    for commit, d in data:
        if not str(d["kubernetes"]).startswith(args.line + "."):
            print(f"{commit}: go.mod pins {d['kubernetes']}, not {args.line}", file=sys.stderr)
            return 1
    out = [
        f"# k3s {args.line}: CLI flags sealkit's k3s plugin may use, extracted by",
        "# tests/fakes/upstream/k3s/extract.py; facts only (names, aliases), no upstream code or prose.",
        "tool: k3s",
        f"line: {args.line}",
        f"repo: {args.repo}",
        *([f"mirror: {args.mirror}"] if args.mirror else []),
        "commits:",
        *(
            f"  - {{commit: {c}, kubernetes: {d['kubernetes']}, date: "
            f"{json.dumps(git(args.git, 'show', '-s', '--format=%cs', c).strip())}, "
            f"subject: {json.dumps(git(args.git, 'show', '-s', '--format=%s', c).strip())}}}"
            for c, d in data
        ),
        f"paths: [{', '.join(f'{CMDS}/{n}.go' for n in _CMD_FILES)}, go.mod]",
        "commands:",
    ]
    for key in ("server", "agent", "certificate rotate"):
        _emit_flags(out, f'"{key}"' if " " in key else key, [d[key] for _, d in data])  # type: ignore[misc]
    skip = all(d["kubectl_skips_flag_parsing"] for _, d in data)
    out.append(f"kubectl_skips_flag_parsing: {str(skip).lower()}")
    out.append(f"version_flag: {str(all(d['version_flag'] for _, d in data)).lower()}")
    checked = {tuple(d["config_checked"]) for _, d in data}  # type: ignore[arg-type]
    defaults = {d["config_default"] for _, d in data}
    if len(checked) != 1 or len(defaults) != 1:
        print(f"config file handling differs between the commits: {checked} {defaults}", file=sys.stderr)
        return 1
    out += [
        "config_file:",
        f"  path: {PARSER}",
        f"  default: {defaults.pop()}",
        "  # keys are long flag names (or aliases) of the command, rendered as --key=value, a list as one",
        "  # --key=item per item; commands listed here drop unknown keys with a warning, the others refuse",
        "  # them as undefined flags",
        f"  unknown_keys_dropped_for: [{', '.join(checked.pop())}]",
    ]
    schemas = {}
    for tag in sorted({str(d["wharfie"]) for _, d in data}):
        schemas[tag] = registries_schema(git(args.wharfie_git, "show", f"{tag}:{WHARFIE_TYPES}"))
    if len({repr(v) for v in schemas.values()}) != 1:
        print(f"registries.yaml types differ between wharfie {sorted(schemas)}", file=sys.stderr)
        return 1
    out += [
        "registries:",
        "  repo: rancher/wharfie",
        f"  tags: [{', '.join(sorted(schemas))}]",
        f"  path: {WHARFIE_TYPES}",
        "  root: Registry",
        "  strict: false",
        "  types:",
    ]
    for typ, fields in sorted(next(iter(schemas.values())).items()):
        out.append(f"    {typ}: {{{', '.join(f'{k}: {v}' for k, v in sorted(fields.items()))}}}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
