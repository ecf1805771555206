// A message strip above the content: errors (role alert) and notices (role status), dismissable.
import type { ReactNode } from 'react';

export function Banner({ tone, children, onDismiss, testId }: { tone: 'bad' | 'warn'; children: ReactNode; onDismiss?: () => void; testId?: string }) {
  return (
    <div className={`banner ${tone}`} role={tone === 'bad' ? 'alert' : 'status'} data-testid={testId}>
      <span>{children}</span>
      {onDismiss && (
        <button type="button" className="icon" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      )}
    </div>
  );
}
