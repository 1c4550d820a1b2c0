"""Principals the tests act as: every write in data_access checks the one it is given."""

from data_access.trust.auth import Principal

ADMIN = Principal(username="test-admin", role="admin", display_name="测试管理员")
DESK = Principal(username="test-desk", role="desk", display_name="测试专班")
LEADER = Principal(username="test-leader", role="leader", display_name="测试领导")
ANALYST = Principal(username="test-analyst", role="analyst", display_name="测试分析")


def desk(name: str) -> Principal:
    """A desk officer whose display name (the actor in histories) is ``name``."""
    return Principal(username=f"desk-{name}", role="desk", display_name=name)
