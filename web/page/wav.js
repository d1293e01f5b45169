// Audio files in and out of the page: decoding at the file's own rate, WAV writing.

/** The sample rate a WAV or FLAC file declares (null for other formats: the browser decodes
 * them at 44.1 kHz). */
export function declaredRate(bytes) {
  const v = new DataView(bytes);
  const tag = (o) => String.fromCharCode(...new Uint8Array(bytes, o, 4));
  if (bytes.byteLength >= 12 && tag(0) === "RIFF" && tag(8) === "WAVE") {
    for (let o = 12; o + 8 <= bytes.byteLength; o += 8 + v.getUint32(o + 4, true) + (v.getUint32(o + 4, true) % 2)) {
      if (tag(o) === "fmt " && o + 16 <= bytes.byteLength) return v.getUint32(o + 12, true);
    }
  }
  if (bytes.byteLength >= 42 && tag(0) === "fLaC") {  // STREAMINFO: 20 bits of rate at byte 18
    return (v.getUint8(18) << 12) | (v.getUint8(19) << 4) | (v.getUint8(20) >> 4);
  }
  return null;
}

/** Decode a file the browser can read (wav, mp3, flac, ogg, m4a, ...) -> {channels (planar
 * Float32Arrays), rate}. WAV and FLAC keep their own rate; others come at 44.1 kHz. */
export async function decodeAudioFile(file) {
  const bytes = await file.arrayBuffer();
  const rate = declaredRate(bytes) || 44100;
  const context = new OfflineAudioContext(1, 1, Math.min(Math.max(rate, 3000), 768000));
  let buffer;
  try {
    buffer = await context.decodeAudioData(bytes);
  } catch (err) {
    throw new Error(`${file.name}: cannot decode audio (${err.message || err})`);
  }
  if (!buffer.length) throw new Error(`${file.name}: no audio samples`);
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => Float32Array.from(buffer.getChannelData(c)));
  return { channels, rate: buffer.sampleRate };
}

/** A WAV file (Blob) of planar channels: 16-bit PCM clipped to +-1 as libsndfile writes it
 * (`separate`'s default), or 32-bit float (`--float32`). */
export function encodeWav(channels, rate, { float32 = false } = {}) {
  const c = channels.length;
  const n = channels[0].length;
  const bytesPer = float32 ? 4 : 2;
  const data = n * c * bytesPer;
  const buf = new ArrayBuffer(44 + data);
  const v = new DataView(buf);
  const text = (o, s) => [...s].forEach((ch, i) => v.setUint8(o + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  v.setUint32(4, 36 + data, true);
  text(8, "WAVE");
  text(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, float32 ? 3 : 1, true);
  v.setUint16(22, c, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * c * bytesPer, true);
  v.setUint16(32, c * bytesPer, true);
  v.setUint16(34, 8 * bytesPer, true);
  text(36, "data");
  v.setUint32(40, data, true);
  if (float32) {
    const out = new Float32Array(buf, 44, n * c);
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < n; i++) out[i * c + ch] = channels[ch][i];
  } else {
    const out = new Int16Array(buf, 44, n * c);
    for (let ch = 0; ch < c; ch++) {
      const x = channels[ch];
      for (let i = 0; i < n; i++) out[i * c + ch] = Math.round(Math.min(1, Math.max(-1, x[i])) * 32767);
    }
  }
  return new Blob([buf], { type: "audio/wav" });
}
