// Answers to an agent's questions (the `ask` event) as the message that answers them: one format for
// the web UI's ask card and the `caic logs` prompt, so the agent reads the same either way.

export interface AskQuestionView {
  question: string;
  header?: string;
  options: { label: string; description?: string }[];
  multiSelect: boolean;
}

/** Formats answers to an ask as the message sent to the agent. */
export function formatAnswers(questions: readonly AskQuestionView[], answers: readonly { selected: readonly string[]; other: string }[]): string {
  const parts = questions.map((q, i) => {
    const a = answers[i] ?? { selected: [], other: '' };
    const chosen = [...a.selected, ...(a.other.trim() ? [a.other.trim()] : [])].join(', ');
    return { q, chosen };
  });
  if (parts.length === 1) return parts[0]!.chosen;
  return parts.map(({ q, chosen }) => `${q.header ?? q.question}: ${chosen}`).join('\n');
}
