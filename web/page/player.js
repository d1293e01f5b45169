// Playback of the stems while they are separated: a mixer (volume, mute, solo per stem).
//
// Stems arrive block by block (separator.js yields finished samples in order); each block
// becomes one AudioBuffer per stem, scheduled on the AudioContext's clock at its place in the
// song, so playback can start with the first block and go on as the next ones arrive.

export class StemPlayer {
  constructor(sources, rate, channels) {
    this.sources = sources;
    this.rate = rate;
    this.channels = channels;
    this.blocks = [];  // {start, length, data: [stem][channel] Float32Array}
    this.available = 0;  // samples ready from the start
    this.volume = sources.map(() => 1);
    this.muted = sources.map(() => false);
    this.soloed = sources.map(() => false);
    this.context = null;
    this.playing = null;  // {startedAt (context time), offset (s), nodes}
    this.offset = 0;
  }

  /** Add finished samples (stems[k][c] from `start`). */
  add(start, stems) {
    const length = stems[0][0].length;
    if (!length) return;
    const block = { start, length, data: stems };
    this.blocks.push(block);
    this.available = Math.max(this.available, start + length);
    if (this.playing) this.schedule(block);
  }

  /** The gain a stem plays at: its volume, zero when muted or when another stem is soloed. */
  gain(k) {
    const solo = this.soloed.some(Boolean);
    return (solo ? this.soloed[k] : !this.muted[k]) ? this.volume[k] : 0;
  }

  setVolume(k, value) { this.volume[k] = value; this.applyGains(); }
  setMuted(k, value) { this.muted[k] = value; this.applyGains(); }
  setSoloed(k, value) { this.soloed[k] = value; this.applyGains(); }

  applyGains() {
    if (!this.gains) return;
    this.gains.forEach((node, k) => node.gain.setTargetAtTime(this.gain(k), this.context.currentTime, 0.01));
  }

  /** Seconds played so far. */
  position() {
    if (!this.playing) return this.offset;
    return this.playing.offset + (this.context.currentTime - this.playing.startedAt);
  }

  async play() {
    if (this.playing) return;
    if (!this.context) {
      this.context = new AudioContext({ sampleRate: this.rate });
      this.gains = this.sources.map((_, k) => {
        const node = this.context.createGain();
        node.gain.value = this.gain(k);
        node.connect(this.context.destination);
        return node;
      });
    }
    await this.context.resume();
    if (this.offset * this.rate >= this.available) this.offset = 0;
    this.playing = { startedAt: this.context.currentTime + 0.05, offset: this.offset, nodes: [] };
    for (const block of this.blocks) this.schedule(block);
  }

  pause() {
    if (!this.playing) return;
    this.offset = Math.min(this.position(), this.available / this.rate);
    for (const node of this.playing.nodes) node.stop();
    this.playing = null;
  }

  /** Start one block's buffers at their place relative to the playing position. */
  schedule(block) {
    const { startedAt, offset } = this.playing;
    const begin = block.start / this.rate;
    const end = (block.start + block.length) / this.rate;
    if (end <= offset) return;
    block.data.forEach((perChannel, k) => {
      if (!block.buffers) block.buffers = [];
      if (!block.buffers[k]) {
        const buffer = this.context.createBuffer(this.channels, block.length, this.rate);
        perChannel.forEach((ch, c) => buffer.copyToChannel(ch, c));
        block.buffers[k] = buffer;
      }
      const node = this.context.createBufferSource();
      node.buffer = block.buffers[k];
      node.connect(this.gains[k]);
      // a block that arrives late starts where the song is now
      const when = Math.max(this.context.currentTime, startedAt + Math.max(0, begin - offset));
      node.start(when, Math.max(0, when - startedAt + offset - begin));
      this.playing.nodes.push(node);
    });
  }
}
