// Modal dialogs on the native <dialog> element (focus trap, Esc, backdrop) and a confirm helper.
import { useEffect, useRef, type ReactNode } from 'react';

export function Dialog(props: { open: boolean; title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} className="dialog" aria-label={props.title} onClose={props.onClose} onCancel={props.onClose}>
      {props.open && (
        <>
          <header className="dialog-head">
            <h2>{props.title}</h2>
            <button type="button" className="icon" aria-label="Close" onClick={props.onClose}>
              ×
            </button>
          </header>
          <div className="dialog-body">{props.children}</div>
        </>
      )}
    </dialog>
  );
}

export function Confirm(props: { open: boolean; title: string; message: ReactNode; confirmLabel: string; danger?: boolean; onConfirm: () => void; onClose: () => void }) {
  return (
    <Dialog open={props.open} title={props.title} onClose={props.onClose}>
      <p>{props.message}</p>
      <div className="row end">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          className={props.danger ? 'danger' : 'primary'}
          autoFocus
          onClick={() => {
            props.onConfirm();
            props.onClose();
          }}
        >
          {props.confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
