// The task's transcript, virtualized: only the cards near the viewport are in the DOM, so a
// 10,000-event session scrolls like a short one. Follows the bottom while the user is there (also
// through a resize); a new question from the agent is scrolled into view wherever the user was.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { TranscriptState } from '../lib/transcript';
import { Card, type CardContext } from './cards';

export function Transcript({ transcript, ctx, ready, focusKey }: { transcript: TranscriptState; ctx: CardContext; ready: boolean; focusKey?: string | undefined }) {
  const scroller = useRef<HTMLDivElement>(null);
  const items = transcript.items;
  const [atBottom, setAtBottom] = useState(true);
  const stick = useRef(true);
  const v = useVirtualizer({
    count: items.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 64,
    overscan: 6,
    getItemKey: (i) => items[i]!.key,
  });

  // New content while at the bottom: stay there (layout effect: before the browser paints).
  useLayoutEffect(() => {
    if (stick.current && items.length > 0) v.scrollToIndex(items.length - 1, { align: 'end' });
  }, [items, v]);

  // An open question is shown once when it appears (the user may be reading far above).
  const focused = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (!focusKey || focused.current === focusKey) return;
    const at = items.findIndex((it) => it.key === focusKey);
    if (at < 0) return;
    focused.current = focusKey;
    v.scrollToIndex(at, { align: 'start' });
  }, [focusKey, items, v]);

  // Following ends when the reader scrolls up, not when the content moves under them: a narrower
  // screen (a phone turned) makes the cards taller and the virtualizer shifts the scroll position.
  const count = useRef(items.length);
  count.current = items.length;
  const sizer = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    let lastTop = el.scrollTop;
    const onScroll = () => {
      const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
      stick.current = bottom || (stick.current && el.scrollTop >= lastTop);
      lastTop = el.scrollTop;
      setAtBottom(stick.current);
    };
    const follow = () => {
      if (stick.current && count.current > 0) v.scrollToIndex(count.current - 1, { align: 'end' });
    };
    const resized = new ResizeObserver(follow);
    resized.observe(el);
    if (sizer.current) resized.observe(sizer.current);
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      resized.disconnect();
      el.removeEventListener('scroll', onScroll);
    };
  }, [v]);

  return (
    <div className="transcript-wrap">
      <div
        ref={scroller}
        className="transcript"
        data-testid="transcript"
        data-ready={ready}
        data-last-id={transcript.lastId}
        data-events={transcript.events}
        data-gaps={transcript.gaps}
        role="log"
        aria-label="Transcript"
        aria-busy={!ready}
      >
        <div ref={sizer} style={{ height: v.getTotalSize(), position: 'relative', width: '100%' }}>
          {v.getVirtualItems().map((row) => (
            <div key={row.key} data-index={row.index} ref={v.measureElement} className="row-item" style={{ position: 'absolute', top: 0, left: 0, width: '100%', transform: `translateY(${row.start}px)` }}>
              <Card item={items[row.index]!} ctx={ctx} />
            </div>
          ))}
        </div>
        {!ready && <div className="muted small pad">Loading history…</div>}
      </div>
      {!atBottom && (
        <button
          type="button"
          className="jump"
          onClick={() => {
            stick.current = true;
            v.scrollToIndex(items.length - 1, { align: 'end' });
          }}
        >
          ↓ Latest
        </button>
      )}
    </div>
  );
}
