"""A manifest of a tree: everything a restore must keep, to compare two trees exactly."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

Entry = tuple[object, ...]


def _xattrs(path: str, with_xattrs: bool) -> tuple[tuple[str, bytes], ...]:
    if not with_xattrs:
        return ()
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    # XFS shows root its on-disk copy of an ACL as trusted.SGI_ACL_*: the same ACL,
    # already compared through system.posix_acl_*.
    names = [n for n in names if not n.startswith("trusted.SGI_ACL_")]
    return tuple(sorted((n, os.getxattr(path, n, follow_symlinks=False)) for n in names))


def manifest(
    root: Path, with_xattrs: bool = True, with_mtime: bool = True, with_dir_mtime: bool = True
) -> dict[str, Entry]:
    """path -> (type, uid, gid, mode, size, sha256, link, hard-link group, xattrs, rdev, mtime).

    The top folder's own metadata and /lost+found are left out: they belong to the filesystem.
    """
    out: dict[str, Entry] = {}
    groups: dict[tuple[int, int], str] = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root)
            if rel == "lost+found":
                continue
            st = os.lstat(full)
            kind = stat.S_IFMT(st.st_mode)
            digest = link = group = None
            if stat.S_ISREG(kind):
                with open(full, "rb") as data:
                    digest = hashlib.sha256(data.read()).hexdigest()
                if st.st_nlink > 1:
                    group = groups.setdefault((st.st_dev, st.st_ino), rel)
            elif stat.S_ISLNK(kind):
                link = os.readlink(full)
            size = st.st_size if not stat.S_ISDIR(kind) else None
            rdev = st.st_rdev if stat.S_ISCHR(kind) or stat.S_ISBLK(kind) else None
            keep_mtime = with_mtime and not stat.S_ISLNK(kind)
            if stat.S_ISDIR(kind) and not with_dir_mtime:
                keep_mtime = False
            mtime = int(st.st_mtime) if keep_mtime else None
            out[rel] = (
                kind,
                st.st_uid,
                st.st_gid,
                stat.S_IMODE(st.st_mode),
                size,
                digest,
                link,
                group,
                _xattrs(full, with_xattrs),
                rdev,
                mtime,
            )
    return out


def differences(a: dict[str, Entry], b: dict[str, Entry], limit: int = 10) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key)} != {b.get(key)}")
    return out[:limit]
