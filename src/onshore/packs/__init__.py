"""Policy packs: the rules as data. ``load_pack("cn-auto")`` gives the shipped pack."""

from onshore.packs.loader import Pack, RuleInfo, load_pack

__all__ = ["Pack", "RuleInfo", "load_pack"]
