// Which error refuses what the page sent, by the rule of app/client (`refuses`, `ends_turn`).

/** Whether a frame is an error refusing the frame this page sent: it names no answer. */
export function refuses(frame) {
  return frame.type === "error" && !("message_id" in frame);
}
