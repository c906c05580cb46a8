// Copying to the clipboard: code blocks, whole answers (as Markdown) and the session's transcript.

import { answerSource } from "./render.js";

/** Put `text` on the clipboard; false when the browser refuses. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Plain http on a LAN address is no secure context: no Clipboard API there.
    return legacyCopy(text);
  }
}

function legacyCopy(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "visually-hidden";
  const focused = document.activeElement;
  document.body.append(area);
  area.select();
  try {
    return document.execCommand("copy");
  } finally {
    area.remove();
    focused?.focus();
  }
}

/** What a copy button copies: its code block's code, or its answer's Markdown; null otherwise. */
export function copyTarget(button) {
  if (button.classList.contains("copy-code")) {
    const code = button.closest(".code-block")?.querySelector("pre code")?.textContent;
    // marked ends a block's code with a newline the fence did not have.
    return code?.replace(/\n$/, "") ?? null;
  }
  if (button.classList.contains("copy-answer")) return answerSource(button.closest(".msg"));
  return null;
}

/** The conversation shown in `log` as Markdown: who said what, tool calls and errors included. */
export function transcriptMarkdown(log) {
  const parts = [];
  for (const node of log.querySelectorAll(".msg, .tool-card")) {
    if (node.classList.contains("tool-card")) {
      const args = node.querySelector(".args")?.textContent ?? "";
      const result = node.querySelector(".result")?.textContent ?? "";
      parts.push(`**Tool ${node.dataset.tool}**\n\n${fence(args)}\n\n→\n\n${fence(result)}`);
    } else if (node.classList.contains("user")) {
      parts.push(`**You:**\n\n${node.querySelector(".text").textContent}`);
    } else if (node.classList.contains("assistant")) {
      parts.push(`**Assistant:**\n\n${answerSource(node)}`);
    } else if (node.classList.contains("error")) {
      parts.push(`**Error ${node.querySelector(".code")?.textContent}:** ${node.querySelector(".text").textContent}`);
    }
  }
  return parts.join("\n\n---\n\n") + "\n";
}

/** A JSON code fence long enough for whatever backticks `text` holds. */
function fence(text) {
  const ticks = "`".repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${ticks}json\n${text}\n${ticks}`;
}
