#!/usr/bin/env python3
"""Installs a function's requirements.txt at image build time, from Debian's archive first.

PyPI is often unreachable where these images are built, while Debian's archive is not, and
Debian packages most popular Python distributions. For each requirement:

  1. the Debian package that Debian's own PyPI-name map (dh-python's `cpython3_fallback`,
     e.g. PyYAML -> python3-yaml, beautifulsoup4 -> python3-bs4) names, else
     `python3-<name>` (lower-cased, `_` and `.` turned into `-`), if the archive has it;
  2. otherwise `pip install` of the requirement as written (short timeout, no retries);
  3. otherwise the build fails, naming the requirement.

Debian ships one version of each package: version specifiers, extras and environment markers
are dropped with a note saying which version was installed instead. `-r other.txt` is followed;
other pip options are ignored with a note. Run as root:

    install-requirements.py function/requirements.txt

With --local (the gateway's local provider, no Docker, not root), nothing is installed into
the system: a requirement whose distribution the host's python3 already has (e.g. from a Debian
python3-<name> package) is used as it is, and the rest are installed by pip into TARGET_DIR,
which the function then finds through PYTHONPATH:

    install-requirements.py --local function/requirements.txt deps
"""
import importlib.metadata
import os
import re
import shlex
import subprocess
import sys
import tempfile

APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
REQUIREMENT = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")


def say(message):
    print(f"requirements: {message}", flush=True)


def normalize(name):
    """PEP 503: case-insensitive, runs of '-', '_' and '.' are equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(path):
    """Lines of a requirements file with comments removed and '\\' continuations joined."""
    with open(path, encoding="utf-8") as file:
        text = file.read().replace("\\\n", "")
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            yield line


def parse(path, seen=None):
    """(line, name, rest) per requirement; name is None for what only pip can install."""
    seen = seen if seen is not None else set()
    path = os.path.realpath(path)
    if path in seen:
        return []
    seen.add(path)
    requirements = []
    for line in logical_lines(path):
        if line.startswith("-"):
            option, _, value = line.partition(" ")
            if option.startswith("--requirement="):
                option, value = "-r", option.split("=", 1)[1]
            if option in ("-r", "--requirement") and value.strip():
                included = os.path.join(os.path.dirname(path), value.strip())
                requirements += parse(included, seen)
            elif option in ("-e", "--editable"):
                requirements.append((line, None, ""))
            else:
                say(f"note: option '{line}' ignored")
            continue
        match = REQUIREMENT.match(line)
        if not match or "://" in line.split(";")[0] and "@" not in line:
            requirements.append((line, None, ""))  # a URL or a path: pip's business
            continue
        name, extras, rest = match.group(1), match.group(2), match.group(3).strip()
        if rest.startswith("@"):
            requirements.append((line, None, ""))  # name @ URL
            continue
        if extras:
            say(f"note: extras {extras} of {name} dropped (install what they pull in by name)")
        requirements.append((line, name, rest))
    return requirements


def run(argv, **kwargs):
    return subprocess.run(argv, env=APT_ENV, **kwargs)


def debian_name_map():
    """PyPI name -> Debian package, from dh-python's map (downloaded, not installed)."""
    mapping = {}
    with tempfile.TemporaryDirectory() as tmp:
        got = run(["apt-get", "download", "-q", "dh-python"], cwd=tmp,
                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
        if got.returncode != 0 or not debs:
            say("warning: could not fetch Debian's PyPI-name map (dh-python); "
                "trying python3-<name> only")
            return mapping
        run(["dpkg-deb", "-x", os.path.join(tmp, debs[0]), os.path.join(tmp, "x")], check=True)
        table = os.path.join(tmp, "x/usr/share/dh-python/dist/cpython3_fallback")
        with open(table, encoding="utf-8") as file:
            for entry in file:
                parts = entry.split()
                if len(parts) >= 2:
                    mapping.setdefault(normalize(parts[0]), parts[1])
    return mapping


def in_archive(package):
    shown = run(["apt-cache", "show", "--no-all-versions", package],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return shown.returncode == 0 and "Package:" in shown.stdout


def installed_version(package):
    shown = run(["dpkg-query", "-W", "-f=${Version}", package],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return shown.stdout.strip() or "?"


def pip_install(line):
    if run(["python3", "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
           stderr=subprocess.DEVNULL).returncode != 0:
        say("installing python3-pip for requirements Debian does not package")
        if run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                "python3-pip"]).returncode != 0:
            return False
    return run(["python3", "-m", "pip", "install", "--no-cache-dir", "--break-system-packages",
                "--disable-pip-version-check", "--no-input", "--timeout", "5",
                "--retries", "0", line]).returncode == 0


def on_host(name):
    """The version of the host's distribution `name`, or None when it has none."""
    try:
        return importlib.metadata.distribution(name).version or "?"
    except importlib.metadata.PackageNotFoundError:
        return None


def install_local(requirements, target):
    """--local: keep what the host has, pip-install the rest into `target` (one pip run, so
    that pip resolves their dependencies together)."""
    missing, pip_args = [], []
    for line, name, rest in requirements:
        version = on_host(name) if name is not None else None
        if version is None:
            missing.append(line)
            pip_args += shlex.split(line) if line.startswith("-") else [line]  # -e PATH
        elif rest:
            say(f"{name}: already installed ({version}; specifier '{rest}' not checked)")
        else:
            say(f"{name}: already installed ({version})")
    if not missing:
        return 0
    names = ", ".join(f"'{line}'" for line in missing)
    if subprocess.run([sys.executable, "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        say(f"error: cannot install {names}: not on the host, and {sys.executable} has no pip "
            "(install python3-pip, or the Debian packages python3-<name>)")
        return 1
    say(f"not on the host: {names}; pip install --target {target} (needs PyPI)")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--target", target,
                          "--no-input", "--no-cache-dir", "--disable-pip-version-check",
                          "--timeout", "5", "--retries", "0"] + pip_args)
    if pip.returncode != 0:
        say(f"error: cannot install {names}: not on the host, and pip could not install it "
            "(is PyPI reachable? or install Debian's python3-<name> on the gateway's host)")
        return 1
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--local":
        if not os.path.isfile(argv[2]):
            say(f"no {argv[2]}: nothing to install")
            return 0
        requirements = parse(argv[2])
        if not requirements:
            say("none")
            return 0
        return install_local(requirements, argv[3])
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not os.path.isfile(argv[1]):
        say(f"no {argv[1]}: nothing to install")
        return 0
    requirements = parse(argv[1])
    if not requirements:
        say("none")
        return 0
    try:
        if run(["apt-get", "update", "-q"]).returncode != 0:
            say("error: apt-get update failed")
            return 1
        mapping = debian_name_map()
        from_debian, from_pip = [], []
        for line, name, rest in requirements:
            if name is None:
                from_pip.append((line, "not a plain name"))
                continue
            key = normalize(name)
            candidates = [p for p in (mapping.get(key), "python3-" + key) if p]
            package = next((p for p in dict.fromkeys(candidates) if in_archive(p)), None)
            if package is None:
                from_pip.append((line, "Debian has no " + " or ".join(dict.fromkeys(candidates))))
                continue
            from_debian.append((line, name, rest, package))
        if from_debian:
            packages = sorted({package for _, _, _, package in from_debian})
            say("from Debian: " + " ".join(packages))
            if run(["apt-get", "install", "-y", "-q", "--no-install-recommends"]
                   + packages).returncode != 0:
                say("error: apt-get install failed for: " + " ".join(packages))
                return 1
            for line, name, rest, package in from_debian:
                version = installed_version(package)
                if rest:
                    say(f"note: '{line}': specifier '{rest}' dropped; "
                        f"Debian's {package} {version} installed")
                else:
                    say(f"{name}: Debian's {package} {version}")
        failed = []
        for line, why in from_pip:
            say(f"'{line}': {why}; trying pip (needs PyPI)")
            if not pip_install(line):
                failed.append((line, why))
        if failed:
            for line, why in failed:
                say(f"error: cannot install requirement '{line}': {why}, "
                    "and pip could not install it (is PyPI reachable?)")
            say("hint: use a Debian package name in the build option / ADDITIONAL_PACKAGE, "
                "or vendor the code into the function folder")
            return 1
        return 0
    finally:
        run(["apt-get", "clean"])
        run(["sh", "-c", "rm -rf /var/lib/apt/lists/*"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
