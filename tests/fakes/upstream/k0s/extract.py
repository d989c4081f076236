"""Extract k0s ClusterConfig fields per release from a k0s git mirror into ``<release>.yaml`` (dev tool).

Run by hand against a bare clone of k0sproject/k0s (the ``fetch`` tool's mirror); the fakes read only the
YAML it writes, never the mirror. It records facts (field names, which Go type decodes them, whether that
type's decoder refuses unknown fields), each with the repo, tag and path it came from:

    python3 tests/fakes/upstream/k0s/extract.py --git DIR v1.33.1+k0s.0 v1.36.3+k0s.2 ...

Strictness, as k0s decodes ``k0s.yaml`` (pkg/apis/k0s/v1beta1/clusterconfig_types.go MergedWithYAML →
internal/pkg/strictyaml → sigs.k8s.io/yaml UnmarshalStrict → ClusterConfig.UnmarshalJSON, whose decoder
has DisallowUnknownFields): a key is refused only while the path to it runs through types without an
``UnmarshalJSON`` of their own; a type with one (APISpec, StorageSpec, Network, ...) re-decodes its JSON
with plain ``json.Unmarshal``, which drops unknown keys silently, for itself and everything below it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

PKG = "pkg/apis/k0s/v1beta1"
REPO = "k0sproject/k0s"
_TYPE_RE = re.compile(r"^type (\w+) (struct \{|(\S.*))$")
_FIELD_RE = re.compile(r"^\s+(?:(\w+)\s+)?([\w.*\[\]]+(?:\[[\w.]*\][\w.*]+)?)\s+`([^`]*)`")
_JSON_RE = re.compile(r'json:"([^"]*)"')
_UNMARSHAL_RE = re.compile(r"^func \(\w+ \*?(\w+)\) UnmarshalJSON\(")
# types of other packages: how they decode (facts of k8s.io/apimachinery and the Go standard library)
_EXTERNAL_INLINE = {"metav1.TypeMeta": {"apiVersion": "scalar", "kind": "scalar"}}
_SCALARS = {"string", "bool", "int", "int32", "int64", "uint16", "uint32", "float64", "metav1.Duration"}


def git(gitdir: str, *args: str) -> str:
    return subprocess.run(["git", "-C", gitdir, *args], check=True, capture_output=True, text=True).stdout


def parse_go(files: dict[str, str]) -> tuple[dict[str, dict[str, object]], dict[str, str], set[str]]:
    """Structs (json name → Go type, with file), named non-struct types, types with own UnmarshalJSON."""
    structs: dict[str, dict[str, object]] = {}
    named: dict[str, str] = {}
    custom: set[str] = set()
    for path, text in files.items():
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            m = _UNMARSHAL_RE.match(line)
            if m:
                custom.add(m.group(1))
            m = _TYPE_RE.match(line)
            if m and m.group(2) == "struct {":
                fields: dict[str, str] = {}
                inline: list[str] = []
                i += 1
                while i < len(lines) and lines[i] != "}":
                    fm = _FIELD_RE.match(lines[i])
                    if fm:
                        name, gotype, tag = fm.groups()
                        jm = _JSON_RE.search(tag)
                        jname = jm.group(1).split(",")[0] if jm else ""
                        jname = jname or (name or "")
                        if jm and jname == "-":
                            pass
                        elif (name is None and not jname) or (jm and jm.group(1).startswith(",inline")):
                            inline.append(gotype.lstrip("*"))
                        else:
                            fields[jname] = gotype
                    i += 1
                structs[m.group(1)] = {"file": path, "fields": fields, "inline": inline}
            elif m:
                named[m.group(1)] = m.group(3).split("//")[0].strip()
            i += 1
    return structs, named, custom


def kind_of(gotype: str, structs: dict[str, dict[str, object]], named: dict[str, str]) -> str:
    """``Struct`` / ``[]Struct`` / ``scalar`` / ``map`` / ``opaque`` (decoded without field names)."""
    t = gotype.lstrip("*")
    if t.startswith("[]"):
        inner = kind_of(t[2:], structs, named)
        return f"[]{inner}" if inner in structs else "list"
    if t.startswith("map["):
        return "map"
    if t in structs:
        return t
    if t in _SCALARS:
        return "scalar"
    if t in named:
        return kind_of(named[t], structs, named)
    return "opaque"


# the subcommands sealkit runs with flags: the file that defines each, and its parents (persistent flags)
COMMANDS = {
    "install controller": ("cmd/install/controller.go", "cmd/install/install.go"),
    "install worker": ("cmd/install/worker.go", "cmd/install/install.go"),
    "token create": ("cmd/token/create.go", "cmd/token/token.go"),
    "etcd leave": ("cmd/etcd/leave.go", "cmd/etcd/etcd.go"),
}
_DEF_METHOD = re.compile(
    r"^(?:String|Bool|Int|Int32|Int64|Uint|Uint16|Uint32|Duration|StringSlice|StringArray|"
    r"StringToString|Float64|IP)?(?:Var)?P?$"
)
_CALL_RE = re.compile(r"\.([A-Z]\w*)\(")
_LIT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ADDSET_RE = re.compile(r"AddFlagSet\((?:config\.)?(\w+)\(")


def func_body(src: str, name: str) -> str:
    """The text of Go function ``name`` (receiver or not) up to its closing brace at column 0."""
    m = re.search(rf"^func (?:\([^)]*\) )?{name}\(.*$", src, re.M)
    if not m:
        return ""
    end = src.find("\n}", m.end())
    return src[m.start() : end if end != -1 else len(src)]


def flag_defs(text: str) -> dict[str, tuple[str, bool]]:
    """pflag definitions in Go text: long name → (shorthand or '', whether it takes a value: all but
    the Bool* definitions)."""
    out: dict[str, tuple[str, bool]] = {}
    for line in text.splitlines():
        calls = (c for c in _CALL_RE.finditer(line) if c.group(1) != "P" and _DEF_METHOD.match(c.group(1)))
        m = next(calls, None)
        if m:
            lits = _LIT_RE.findall(line[m.end() :])
            if lits:
                short = lits[1] if m.group(1).endswith("P") and len(lits) > 1 else ""
                out[lits[0]] = (short, not m.group(1).startswith("Bool"))
    for name in re.findall(r'AddFlag\(&pflag\.Flag\{\s*Name:\s*"([^"]+)"', text):
        out[name] = ("", True)
    return out


def command_flags(show: Callable[[str], str], files: tuple[str, ...]) -> dict[str, tuple[str, bool]]:
    """Flags of a subcommand: those its file and its parents' files define or add from pkg/config."""
    cli = show("pkg/config/cli.go")
    debug = show("cmd/internal/debug.go")

    def with_sets(text: str, seen: frozenset[str] = frozenset()) -> dict[str, tuple[str, bool]]:
        found = flag_defs(text)
        for fn in _ADDSET_RE.findall(text):
            if fn not in seen:
                found.update(with_sets(func_body(cli, fn), seen | {fn}))
        if "debugFlags.AddToFlagSet" in text:
            found.update(flag_defs(func_body(debug, "AddToFlagSet")))
        return found

    out: dict[str, tuple[str, bool]] = {}
    for path in files:
        out.update(with_sets(show(path)))
    return out


def extract(gitdir: str, tag: str) -> str:
    commit = git(gitdir, "rev-parse", f"{tag}^{{commit}}").strip()
    names = [n for n in git(gitdir, "ls-tree", "--name-only", f"{tag}:{PKG}").split() if n.endswith(".go")]
    names = [n for n in names if not n.endswith("_test.go") and not n.startswith("zz_")]
    files = {f"{PKG}/{n}": git(gitdir, "show", f"{tag}:{PKG}/{n}") for n in names}
    structs, named, custom = parse_go(files)
    strict_src = files[f"{PKG}/clusterconfig_types.go"]
    if "DisallowUnknownFields" not in strict_src:
        raise SystemExit(
            f"{tag}: ClusterConfig.UnmarshalJSON without DisallowUnknownFields; re-read upstream"
        )
    call = next((ln for ln in strict_src.splitlines() if "YamlUnmarshalStrictIgnoringFields(" in ln), "")
    ignored_fields = re.findall(r'"(\w+)"', call)
    seen: list[str] = []
    todo = ["ClusterConfig"]
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.append(t)
        info = structs[t]
        for inl in info["inline"]:  # type: ignore[union-attr]
            if inl in structs:
                todo.append(inl)
        for gotype in info["fields"].values():  # type: ignore[union-attr]
            k = kind_of(gotype, structs, named).removeprefix("[]")
            if k in structs:
                todo.append(k)
    out = [
        f"# k0s {tag}: ClusterConfig (k0s.yaml) fields, extracted by tests/fakes/upstream/k0s/extract.py",
        "# from the source at the tag; facts only (names, decoders), no upstream code or prose.",
        "tool: k0s",
        f"release: {tag}",
        f"repo: {REPO}",
        f"tag: {tag}",
        f"commit: {commit}",
        "clusterconfig:",
        "  apiVersion: k0s.k0sproject.io/v1beta1",
        "  kinds: [ClusterConfig]",
        "  root: ClusterConfig",
        "  strict_source:",
        f"    repo: {REPO}",
        f"    tag: {tag}",
        f"    path: {PKG}/clusterconfig_types.go",
        "  ignored_unknown: [" + ", ".join(ignored_fields) + "]",
        "  types:",
    ]
    for t in sorted(seen):
        info = structs[t]
        out += [f"    {t}:", f"      path: {info['file']}"]
        out.append(f"      decoder: {'own' if t in custom and t != 'ClusterConfig' else 'inherited'}")
        fields = dict(info["fields"])  # type: ignore[arg-type]
        for inl in info["inline"]:  # type: ignore[union-attr]
            if inl in _EXTERNAL_INLINE:
                fields.update(_EXTERNAL_INLINE[inl])
            elif inl in structs:
                fields.update(structs[inl]["fields"])  # type: ignore[arg-type]
        out.append("      fields:")
        for jname in sorted(fields):
            g = fields[jname]
            k = g if g in ("scalar",) else kind_of(g, structs, named)
            out.append(f'        {jname}: "{k}"')

    def show(path: str) -> str:
        try:
            return git(gitdir, "show", f"{tag}:{path}")
        except subprocess.CalledProcessError:
            return ""

    out.append("commands:")
    for cmd, files in COMMANDS.items():
        flags = command_flags(show, files)
        out += [f"  {cmd}:", "    source:", f"      repo: {REPO}", f"      tag: {tag}"]
        out.append("      paths: [" + ", ".join([*files, "pkg/config/cli.go", "cmd/internal/debug.go"]) + "]")
        out.append("    flags:")
        for name in sorted(flags):
            short, value = flags[name]
            out += [f"      {name}:", f'        short: "{short}"', f"        value: {str(value).lower()}"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--git", required=True, help="bare clone of k0sproject/k0s")
    ap.add_argument("tags", nargs="+")
    ns = ap.parse_args(argv)
    here = Path(__file__).resolve().parent
    for tag in ns.tags:
        (here / f"{tag}.yaml").write_text(extract(ns.git, tag), encoding="utf-8")
        print(here / f"{tag}.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
