"""Pure rules of the offline provider's answers: replies to ordinary messages, and the words
they stream in. Tool calls and the sentences telling their results are in local_tools.py.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

from app.llm.base import Message
from app.llm.local_demo import asks_for_time, find_stock_item
from app.llm.local_tools import describe_tool_results, shorten

_STOP_TEXT = (
    "a an the and or but if then so to of in on at by for with from about as into over is "
    "are was were be been being am do does did doing have has had i me my you your we our "
    "us he she it its they them their this that these those what which who whom whose why "
    "how when where can could would should will shall may might must please tell explain "
    "know think want like just really very some any all more most there here not no yes ok "
    "okay also too than"
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())


def split_words(text: str) -> list[str]:
    """Word-sized pieces, each with its leading space, that join back to exactly `text`."""
    return re.findall(r"\s*\S+", text)


def compose_answer(messages: list[Message]) -> str:
    """The whole deterministic answer to the conversation so far."""
    if messages and messages[-1]["role"] == "tool":
        return describe_tool_results(messages)
    users = [m["content"] or "" for m in messages if m["role"] == "user"]
    text = users[-1].strip() if users else ""
    earlier = users[:-1]
    reply = _reply_to(text, earlier)
    if earlier and not _REMEMBER.search(text):
        turns = "turn" if len(earlier) == 1 else "turns"
        reply += f" I remember {len(earlier)} earlier {turns} of this conversation."
    return reply


_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|howdy|greetings|good\s+(?:morning|afternoon|evening))\b", re.IGNORECASE
)
_THANKS = re.compile(r"\b(?:thanks|thank\s+you|thx|cheers|much\s+appreciated)\b", re.IGNORECASE)
_GOODBYE = re.compile(r"\b(?:bye|goodbye|see\s+you|good\s+night|farewell)\b", re.IGNORECASE)
_HELP = re.compile(
    r"\b(?:help|what\s+can\s+you\s+do|who\s+are\s+you|what\s+are\s+you|how\s+do\s+you\s+work)\b",
    re.IGNORECASE,
)
_REMEMBER = re.compile(
    r"\b(?:what\s+did\s+i\s+(?:say|ask|tell)|do\s+you\s+remember|earlier|previous(?:ly)?)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"\?\s*$|^\W*(?:what|why|how|when|where|who|which|can|could|should|would|is|are|do|does)\b",
    re.IGNORECASE,
)


def _reply_to(text: str, earlier: list[str]) -> str:
    words = text.split()
    if not words:
        return _HELP_REPLY
    if len(words) > 80:
        return _LONG_REPLY.format(count=len(words), themes=_themes(text))
    if _REMEMBER.search(text):
        return _recall(earlier)
    if asks_for_time(text):
        return _MISSING_TOOL.format(tool="get_current_time", action="read the clock")
    if find_stock_item(text):
        return _MISSING_TOOL.format(tool="check_inventory", action="check the inventory")
    for pattern, reply in ((_HELP, _HELP_REPLY), (_THANKS, _THANKS_REPLY), (_GOODBYE, _BYE_REPLY)):
        if pattern.search(text):
            return reply
    if _GREETING.search(text):
        return _GREETING_REPLY
    variants = _QUESTION_REPLIES if _QUESTION.search(text) else _STATEMENT_REPLIES
    choice = variants[zlib.crc32(text.encode()) % len(variants)]
    return choice.format(topic=_topic(text), snippet=shorten(text.rstrip(".!?…"), 8))


def _recall(earlier: list[str]) -> str:
    if not earlier:
        return _NOTHING_TO_RECALL
    quoted = [f'"{shorten(text, 8)}"' for text in earlier[:3]]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
    more = f" (and {len(earlier) - 3} more)" if len(earlier) > 3 else ""
    return _RECALL_REPLY.format(count=len(earlier), listed=listed, more=more)


def _topic(text: str) -> str:
    words = [w.strip("'’-") for w in re.findall(r"[\w'’-]+", text)]
    kept = [w for w in words if w and w.lower() not in _STOP_WORDS]
    return " ".join(dict.fromkeys(kept[:5])) or "that"


def _themes(text: str) -> str:
    words = [w.lower() for w in re.findall(r"[A-Za-z][\w'-]{3,}", text)]
    common = Counter(w for w in words if w not in _STOP_WORDS).most_common(4)
    return ", ".join(f'"{word}"' for word, _ in common) or "hard to pin down"


_GREETING_REPLY = (
    "Hello! I am the local assistant of this demo. I run offline and answer deterministically, "
    "and I can call the tools offered to me: the demo ones tell the current time in any timezone "
    'and check the office inventory. Try asking "What time is it in Tokyo?" or "Do we have any '
    'mice in stock?"'
)
_HELP_REPLY = (
    "Here is what I can do. I am an offline, deterministic demo model: I answer ordinary messages "
    "with simple rules, and I call tools when they help. Ask for the time, optionally in a "
    "city such as Paris or New York, or ask whether an item like keyboards, webcams or monitors "
    'is in stock. To try any other tool offered to me, say "call" and its name.'
)
_THANKS_REPLY = (
    "You're welcome, I'm glad that helped! If there is anything else, just ask: I can tell you the "
    "current time in a city, check whether an item such as a monitor or a headset is in stock, or "
    "simply keep the conversation going with another question."
)
_BYE_REPLY = (
    "Goodbye, and thanks for the conversation! When you disconnect, this session is closed and a "
    "short summary of it is saved, so you can come back later with the same session id and pick up "
    "where we left off. Have a good day."
)
_LONG_REPLY = (
    "That is a long message of {count} words, thank you. The main themes I can pick out are "
    "{themes}. I am the offline demo model, so I cannot analyse it in depth, but it is stored with "
    "the conversation, and you can ask me about any single part of it in a shorter message."
)
_RECALL_REPLY = (
    "Earlier in this conversation you sent {count} messages: {listed}{more}. I keep every turn of "
    "the session, also after a reconnect, so you can refer back to any of them and I take them "
    "into account when I answer."
)
_NOTHING_TO_RECALL = (
    "This is the first message of our conversation, so there is nothing earlier for me to "
    "remember yet. Every turn you send is stored with the session, and when you reconnect later "
    "with the same session id I will see the whole history again."
)
_MISSING_TOOL = (
    "I would normally call the {tool} tool to answer that, but it is not offered in this "
    "conversation, so I cannot {action} right now. Everything else still works: ask me a "
    "question or say hello, and I will reply from my simple offline rules."
)
_QUESTION_REPLIES = (
    (
        'Good question about "{topic}". I am the offline demo model, so I answer from simple rules '
        "rather than real knowledge. I cannot look this up, but a reliable approach is to break it "
        "into smaller parts, check a trusted source for each, and compare what you find."
    ),
    (
        'You asked about "{topic}". As the local model I run without a network, so take this as a '
        "starting point rather than an answer: write down what you already know, list what is "
        "still unclear, and try the smallest step that would tell you more."
    ),
)
_STATEMENT_REPLIES = (
    (
        'Thanks for telling me about "{topic}". I have noted it for this conversation. I am the '
        "local demo model and reply with simple rules, but I can still help: ask me a question, "
        "ask what time it is somewhere, or ask whether an item is in stock."
    ),
    (
        'Noted: "{snippet}". I am the offline assistant of this demo, so my replies come from a '
        "few deterministic rules. For something concrete, ask what time it is in a city such as "
        "Tokyo, or whether we have an item like keyboards or webcams in stock."
    ),
)
