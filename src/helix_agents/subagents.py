"""Sub-agents and persistent companions: the public names.

``subagent_tool(agent)`` makes an agent a tool of another; ``Agent(companions=[...])``
gives an agent the companion tools (see ``companion_tools``). The machinery lives in
:mod:`helix_agents.core.children`; the guide is docs/subagents.md.
"""

from .core.companions import COMPANION_TOOL_NAMES, CompanionTool, companion_tools
from .core.subagents import SubagentTool, subagent_tool

__all__ = [
    "COMPANION_TOOL_NAMES",
    "CompanionTool",
    "SubagentTool",
    "companion_tools",
    "subagent_tool",
]
