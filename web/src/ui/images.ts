// Images pasted, dropped or picked for a prompt: read as base64 for the API, previewed by blob URL.
export interface PromptImage {
  mediaType: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';
  data: string;
  url: string;
  name: string;
}

const TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** The API takes up to 8 MiB of base64 per image: about 6 MiB of file. */
export const MAX_IMAGE_BYTES = 6 * 1024 * 1024;

export async function readImages(files: Iterable<File>): Promise<{ images: PromptImage[]; rejected: string[] }> {
  const images: PromptImage[] = [];
  const rejected: string[] = [];
  for (const f of files) {
    if (!TYPES.has(f.type)) {
      rejected.push(`${f.name || 'file'}: not a PNG, JPEG, GIF or WebP image`);
      continue;
    }
    if (f.size > MAX_IMAGE_BYTES) {
      rejected.push(`${f.name || 'image'}: larger than 6 MiB`);
      continue;
    }
    const buf = new Uint8Array(await f.arrayBuffer());
    let bin = '';
    for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    images.push({ mediaType: f.type as PromptImage['mediaType'], data: btoa(bin), url: URL.createObjectURL(f), name: f.name || 'pasted image' });
  }
  return { images, rejected };
}

export function imageFiles(data: DataTransfer | null): File[] {
  if (!data) return [];
  return [...data.files].filter((f) => f.type.startsWith('image/'));
}
