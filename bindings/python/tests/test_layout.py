"""The ctypes declarations against api/ember.h: every struct's size and field offsets
(measured by a C program generated from the header's own declarations and compiled
with cc), and every function the header declares has a ctypes signature."""
import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ember import _lib


def header_dir():
    d = os.environ.get("EMBER_INCLUDE_DIR")
    if d:
        return Path(d)
    try:
        flags = subprocess.run(["pkg-config", "--cflags-only-I", "ember"], check=True,
                               capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("ember.h not found: set EMBER_INCLUDE_DIR or PKG_CONFIG_PATH")
    return Path(flags[0][2:]) if flags else Path("/usr/include/ember")


def parse_header(text):
    """{struct: [fields]} and [functions] declared by the header."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    structs = {}
    for name, body in re.findall(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}", text, flags=re.S):
        fields = []
        for decl in body.split(";"):
            decl = decl.strip()
            if decl:
                m = re.search(r"\(\*\s*(\w+)\)", decl) or re.search(r"(\w+)\s*(\[[^\]]*\])?$", decl)
                fields.append(m.group(1))
        structs[name] = fields
    functions = re.findall(r"EMBER_API\s[^;(]*?\b(ember_\w+)\s*\(", text)
    return structs, functions


CTYPES = {
    "ember_runtime_options": _lib.RuntimeOptions, "ember_plugin_info": _lib.CPluginInfo,
    "ember_model_options": _lib.ModelOptions, "ember_value_info": _lib.CValueInfo,
    "ember_session_options": _lib.SessionOptions, "ember_class_score": _lib.CClassScore,
    "ember_tokenizer_info": _lib.CTokenizerInfo, "ember_generator_options": _lib.CGeneratorOptions,
    "ember_sampler_options": _lib.CSamplerOptions, "ember_generate_options": _lib.CGenerateOptions,
}


def test_struct_layout_matches_header(tmp_path):
    hdir = header_dir()
    structs, _ = parse_header((hdir / "ember.h").read_text())
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler to measure the header's structs")
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <ember.h>", "int main(void) {"]
    for s, fields in structs.items():
        lines.append(f'    printf("{s} %zu\\n", sizeof({s}));')
        lines += [f'    printf("{s}.{f} %zu\\n", offsetof({s}, {f}));' for f in fields]
    lines += ["    return 0;", "}"]
    (tmp_path / "layout.c").write_text("\n".join(lines))
    subprocess.run([cc, "-I", str(hdir), str(tmp_path / "layout.c"), "-o", str(tmp_path / "layout")],
                   check=True)
    c = dict(line.split() for line in subprocess.run([str(tmp_path / "layout")], check=True,
                                                     capture_output=True, text=True).stdout.splitlines())
    errors = []
    for s, fields in structs.items():
        t = CTYPES.get(s)
        if t is None:
            errors.append(f"{s}: declared in ember.h, no ctypes Structure in ember/_lib.py")
            continue
        if int(c[s]) != ctypes.sizeof(t):
            errors.append(f"{s}: C {c[s]} bytes, ctypes {ctypes.sizeof(t)}")
        py_fields = [f[0] for f in t._fields_]
        for f in fields:
            if f not in py_fields:
                errors.append(f"{s}.{f}: missing in ctypes")
            elif getattr(t, f).offset != int(c[f"{s}.{f}"]):
                errors.append(f"{s}.{f}: C offset {c[s + '.' + f]}, ctypes {getattr(t, f).offset}")
        errors += [f"{s}.{f}: in ctypes, not in ember.h" for f in py_fields if f not in fields]
    assert not errors, "ember/_lib.py does not match ember.h:\n  " + "\n  ".join(errors)


def test_every_header_function_has_a_signature():
    _, functions = parse_header((header_dir() / "ember.h").read_text())
    declared = set(_lib._SIGNATURES) | set(_lib._IMAGE_SIGNATURES) | set(_lib._LM_SIGNATURES)
    missing = [f for f in functions if f not in declared]
    assert len(functions) >= 40 and not missing, f"no ctypes signature in ember/_lib.py for {missing}"
