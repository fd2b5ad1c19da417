"""Reading bone names: tokens (CamelCase, separators, any prefix), side markers, helper bones (twist, IK,
control, end …) and the hand and foot words (fingers, palm/metacarpal, toe digits). Standard library only."""

from __future__ import annotations

import re

HELPER_TOKENS = {"ik", "fk", "pole", "target", "twist", "roll", "end", "nub", "tip", "mch", "org", "vis", "tweak",
                 "helper", "corrective", "jiggle", "weapon", "prop", "ctrl", "ctl", "control", "controller", "offset",
                 "null", "share", "top", "socket", "bend2", "ik_target", "poletarget", "ikfk", "parent", "damped",
                 "elbowtarget", "kneetarget", "locator", "handle", "aim", "master", "heel", "bust", "breast",
                 "eye", "jaw", "tongue", "hair", "skirt", "cloth"}
LEFT, RIGHT = {"l", "left", "lft", "左"}, {"r", "right", "rgt", "右"}
FINGER_WORDS = {"thumb": ("thumb", "pollex"), "index": ("index", "pointer"), "middle": ("middle", "mid"),
                "ring": ("ring",), "little": ("pinky", "pinkie", "little", "small")}
PALM_WORDS = ("palm", "carpal", "metacarpal", "metacarpals", "fingerbase")


def tokens(name: str) -> list[str]:
    """'mixamorig:LeftForeArm' -> ['mixamorig', 'left', 'fore', 'arm']; 'lShldrBend' -> ['l', 'shldr', 'bend']."""
    parts = re.split(r"[\s_.:\-|]+", name)
    out = []
    for part in parts:
        out += [t.lower() for t in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\x00-\x7f]+", part)]
    return [t for t in out if t]


def side_of(name: str) -> str:
    toks = tokens(name)
    if any(t in LEFT for t in toks) or name.startswith("左"):
        return "L"
    if any(t in RIGHT for t in toks) or name.startswith("右"):
        return "R"
    return ""


def role_text(name: str) -> str:
    return "".join(t for t in tokens(name) if t not in LEFT | RIGHT)


def is_helper(name: str) -> bool:
    """Twist/roll/IK/pole/control/end bones and the like: never a body part."""
    toks = set(tokens(name))
    text = role_text(name)
    return bool(toks & HELPER_TOKENS) or text.endswith("end") or "twist" in text or "control" in text


def is_extremity(name: str) -> bool:
    """Finger, palm/metacarpal and toe-digit bones (by name)."""
    return is_finger_name(name) or is_palm_name(name) or toe_digit(name)


def toe_digit(name: str) -> bool:
    text = role_text(name)
    return bool(re.search(r"toe\d|(big|index|middle|ring|little|pinky)toe", text))


def finger_of_name(name: str) -> str | None:
    toks = tokens(name)
    for finger, words in FINGER_WORDS.items():
        if finger == "middle" and "mid" in toks and not any(t.isdigit() for t in toks):
            continue  # 'mid' alone (MidSpine) is no finger
        if any(w in toks for w in words):
            return finger
    return None


def is_finger_name(name: str) -> bool:
    toks = tokens(name)
    return finger_of_name(name) is not None or "finger" in toks or "fingers" in toks


def is_palm_name(name: str) -> bool:
    text = "".join(tokens(name))
    return any(w in text for w in PALM_WORDS)
