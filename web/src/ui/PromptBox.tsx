// A prompt editor: multi-line, Enter sends, Shift+Enter adds a line, images by paste, drop or picker.
import { forwardRef, useState } from 'react';
import { ClipIcon } from './icons';
import { imageFiles, readImages, type PromptImage } from './images';

export interface PromptValue {
  text: string;
  images: PromptImage[];
}

interface Props {
  value: PromptValue;
  onChange: (v: PromptValue) => void;
  onSubmit: () => void;
  placeholder: string;
  label: string;
  allowImages: boolean;
  disabled?: boolean;
  onError: (message: string) => void;
  rows?: number;
}

export const PromptBox = forwardRef<HTMLTextAreaElement, Props>(function PromptBox(p, ref) {
  const [dragging, setDragging] = useState(false);
  const add = async (files: File[]) => {
    if (!files.length) return;
    if (!p.allowImages) {
      p.onError('This agent does not take images.');
      return;
    }
    const { images, rejected } = await readImages(files);
    if (rejected.length) p.onError(rejected.join('; '));
    if (images.length) p.onChange({ ...p.value, images: [...p.value.images, ...images].slice(0, 10) });
  };
  return (
    <div
      className={`prompt-box${dragging ? ' dragging' : ''}`}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        setDragging(false);
        const files = imageFiles(e.dataTransfer);
        if (files.length) {
          e.preventDefault();
          void add(files);
        }
      }}
    >
      <textarea
        ref={ref}
        aria-label={p.label}
        placeholder={p.placeholder}
        rows={p.rows ?? 3}
        value={p.value.text}
        disabled={p.disabled}
        onChange={(e) => p.onChange({ ...p.value, text: e.target.value })}
        onPaste={(e) => {
          const files = imageFiles(e.clipboardData);
          if (files.length) {
            e.preventDefault();
            void add(files);
          }
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            p.onSubmit();
          }
        }}
      />
      {p.value.images.length > 0 && (
        <ul className="thumbs" aria-label="Attached images">
          {p.value.images.map((img, i) => (
            <li key={img.url}>
              <img src={img.url} alt={img.name} />
              <button
                type="button"
                className="icon"
                aria-label={`Remove ${img.name}`}
                onClick={() => {
                  URL.revokeObjectURL(img.url);
                  p.onChange({ ...p.value, images: p.value.images.filter((_, j) => j !== i) });
                }}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {p.allowImages && (
        <label className="attach" title="Attach images">
          <input
            type="file"
            accept="image/png,image/jpeg,image/gif,image/webp"
            multiple
            hidden
            onChange={(e) => {
              void add([...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
          <ClipIcon />
          <span className="sr-only">Attach images</span>
        </label>
      )}
    </div>
  );
});

export function toPrompt(v: PromptValue): { text: string; images?: { mediaType: PromptImage['mediaType']; data: string }[] } {
  return v.images.length ? { text: v.text, images: v.images.map(({ mediaType, data }) => ({ mediaType, data })) } : { text: v.text };
}
