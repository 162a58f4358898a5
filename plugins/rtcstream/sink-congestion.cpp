// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsink's congestion control: per consumer, a BandwidthEstimator
// (rtcstream/bandwidth.h) fed with that consumer's transport-wide congestion
// control feedback (TWCC) or, without it, its RTCP receiver reports, and
// bounded by its REMBs (WebrtcSession collects them); and the
// video encoder of a group that serves that consumer alone follows the
// estimate, within min-bitrate and max-bitrate, its picture scaled down when
// the bitrate is too low for the input's size (rtcstream/scaling.h). Raw
// video that several consumers watch is encoded in a ladder of renditions
// instead (sink-ladder.cpp): each consumer is moved to the one its estimate
// allows; the full rendition runs at max-bitrate and the others at their
// own bitrates, whatever any one consumer's link does.
//
// Threads and locks:
//   - TWCC feedback comes as an upstream "RTPTWCCPackets" event that the
//     rtpsession inside webrtcbin sends, on its RTCP thread, through every
//     sink pad of the consumer's webrtcbin. A probe on each of the consumer's
//     payloaders drops it there; the first payloader's probe first feeds it
//     to the estimator (Congestion::lock) and, when the estimate moved by
//     5%, posts apply_bitrate to the worker. Nothing there blocks.
//   - Retransmissions: webrtcbin's rtprtxsend answers the consumer's NACKs.
//     A probe on its sink pad (the payloaders' streaming threads) notes each
//     media packet that goes out; one on its src pad (the RTCP thread) drops
//     the retransmission requests that the consumer's RetransmissionBudget
//     (rtcstream/retransmission.h) refuses, so that retransmissions stay
//     within a share of the estimate. Both take Congestion::rtx.lock alone,
//     for a few lookups.
//   - Worker: update_congestion, every second, feeds receiver reports and
//     the sent bitrate, and applies each consumer's estimate, less what its
//     retransmissions use, to its encoder (the encoder's property is set
//     with no lock held).
//   - stats, any thread: State::lock, then Congestion::lock, then
//     Congestion::rtx.lock.
#include "sink-private.h"

#include <gst/rtp/rtp.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace rtcstream::sink {

namespace {

// The video's share of the estimate: the rest is left to RTP, SRTP, UDP and
// IP headers (~5-7% at these packet sizes: the estimate counts them, see
// kPacketOverheadBytes) and the encoder's overshoot while its rate control
// follows a change (VP8 takes about a second); retransmissions are taken
// off before (media_bps). With 0.85 the video filled a link only once the
// estimate stood ~10% above it: the estimate's sawtooth between cuts then
// centred on the link's rate itself (447-512 kbit/s behind 500 over five
// netsim runs, the mean above the cap in two), where it should sit below.
// With 0.9 it still stood at 488-491 kbit/s (read once a second, two runs;
// its sawtooth 360-600): the encoder's share plus headers came to ~0.95 of
// the estimate, so the link was full only with the estimate ~5% above it.
// With 0.95: 457-465 kbit/s, and the same 450 frames in 15 s.
constexpr double kHeadroom = 0.95;
// Bytes of a packet on the wire besides its payload (TWCC reports payload
// sizes): RTP header 12, TWCC extension 8, SRTP tag 10, UDP 8, IPv4 20.
constexpr guint kPacketOverheadBytes = 58;
// Encoded audio passed through: assume Opus' usual bitrate.
constexpr guint kPassThroughAudioBps = 64000;
// The probe asks the worker to apply the estimate once it moved this much.
constexpr double kApplyChange = 0.05;
// An encoder's bitrate is changed only for a difference above this.
constexpr double kEncoderChange = 0.02;
// A bitrate that rose more than this within a second: its picture size is
// not judged on that second.
constexpr double kSteepRise = 1.5;
// Upward probes: the field that marks a retransmission request as a probe's
// padding; the packets it copies (the largest of those first sent this
// recently: well within what rtprtxsend keeps, max(1 s, 3 round trips));
// what counts as congestion for it (besides overuse).
constexpr const char *kProbeField = "rtcstream-probe";
constexpr gint64 kProbeCopyAgeUs = 300000;
constexpr size_t kProbeCopies = 16;
constexpr double kProbeQuietLoss = 0.02;
constexpr double kProbeQuietQueueMs = 20;
// A cluster that takes this long is cut short (the worker was held up).
constexpr gint64 kProbeMaxSendUs = 1000000;

gint64
now_us ()
{
  // The clock of rtpsession's send times: the system clock, monotonic.
  return g_get_monotonic_time ();
}

// The packets of an RTPTWCCPackets event ("packets": a GValueArray of
// RTPTWCCPacket structures), with their size on the wire. Packets without a
// send time (not sent by this session, or forgotten) are left out.
std::vector<PacketFeedback>
parse_twcc (const GstStructure *s, guint64 *unmatched)
{
  std::vector<PacketFeedback> out;
  const GValue *v = gst_structure_get_value (s, "packets");
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS  // rtpsession hands a GValueArray
  if (!v || !G_VALUE_HOLDS (v, g_value_array_get_type ()))
    return out;
  auto *array = static_cast<GValueArray *> (g_value_get_boxed (v));
  for (guint i = 0; array && i < array->n_values; i++) {
    const GValue *pv = &array->values[i];
    if (!GST_VALUE_HOLDS_STRUCTURE (pv))
      continue;
    const GstStructure *p = gst_value_get_structure (pv);
    guint seq = 0, size = 0;
    guint64 local = GST_CLOCK_TIME_NONE, remote = GST_CLOCK_TIME_NONE;
    gboolean lost = FALSE;
    gst_structure_get (p, "seqnum", G_TYPE_UINT, &seq, "local-ts", G_TYPE_UINT64, &local,
        "remote-ts", G_TYPE_UINT64, &remote, "size", G_TYPE_UINT, &size, "lost",
        G_TYPE_BOOLEAN, &lost, nullptr);
    if (!GST_CLOCK_TIME_IS_VALID (local)) {
      (*unmatched)++;
      continue;
    }
    PacketFeedback f;
    f.seq = (uint16_t) seq;
    f.send_us = (int64_t) (local / 1000);
    f.recv_us = lost || !GST_CLOCK_TIME_IS_VALID (remote) ? -1 : (int64_t) (remote / 1000);
    f.size = size + kPacketOverheadBytes;
    out.push_back (f);
  }
  G_GNUC_END_IGNORE_DEPRECATIONS
  return out;
}

// What a probe on a consumer's payloader knows.
struct FeedbackWatch {
  RtcstreamSink *owner;  // alive while its children's pads carry events
  std::string session_id;
  std::shared_ptr<Congestion> cc;
  bool feed;  // the first payloader feeds the estimator; all drop the event
};

void apply_bitrate (RtcstreamSink *self, const std::string &session_id, gint64 tick_us = 0);

// Any thread, no lock held: the retransmission budget follows the estimate
// and the round trip.
void
update_retransmission_budget (Congestion &cc)
{
  guint estimate;
  double rtt;
  {
    std::lock_guard<std::mutex> lk (cc.lock);
    estimate = cc.estimator.estimate_bps ();
    rtt = cc.estimator.rtt_ms ();
  }
  std::lock_guard<std::mutex> lk (cc.rtx.lock);
  cc.rtx.budget.set_link (estimate, rtt);
}

// What media may use of an estimate: less what retransmissions used over
// the last second (Congestion::rtx.lock not held; Congestion::lock may be).
guint
media_bps (Congestion &cc, guint estimate)
{
  guint rtx;
  {
    std::lock_guard<std::mutex> lk (cc.rtx.lock);
    rtx = cc.rtx.budget.bps (now_us ());
  }
  return estimate > rtx ? estimate - rtx : 0;
}

// What the probes on a consumer's rtprtxsend know.
struct RtxWatch {
  RtcstreamSink *owner;  // alive while its children's pads carry data
  std::string session_id;
  std::shared_ptr<Congestion> cc;
};

// The payloaders' streaming threads: media packets on their way into
// rtprtxsend (which keeps them for retransmission).
GstPadProbeReturn
on_media_packets (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *w = static_cast<RtxWatch *> (data);
  const gint64 now = now_us ();
  auto note = [w, now] (GstBuffer *buf) {
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    if (!gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
      return true;
    const guint32 ssrc = gst_rtp_buffer_get_ssrc (&rtp);
    const guint16 seq = gst_rtp_buffer_get_seq (&rtp);
    gst_rtp_buffer_unmap (&rtp);
    w->cc->rtx.budget.on_sent (ssrc, seq,
        (guint32) gst_buffer_get_size (buf) + kPacketOverheadBytes, now);
    return true;
  };
  std::lock_guard<std::mutex> lk (w->cc->rtx.lock);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    note (GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info),
        [] (GstBuffer **buf, guint, gpointer f) {
          return (gboolean) (*static_cast<decltype (note) *> (f)) (*buf);
        }, &note);
  }
  return GST_PAD_PROBE_OK;
}

// webrtcbin's RTCP thread: a retransmission request on its way from the
// RTP session to rtprtxsend; dropped unless the budget answers it.
GstPadProbeReturn
on_retransmission_request (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *w = static_cast<RtxWatch *> (data);
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  const GstStructure *s = gst_event_get_structure (ev);
  if (GST_EVENT_TYPE (ev) != GST_EVENT_CUSTOM_UPSTREAM || !s ||
      !gst_structure_has_name (s, "GstRTPRetransmissionRequest"))
    return GST_PAD_PROBE_OK;
  guint seq = 0, ssrc = 0;
  if (!gst_structure_get_uint (s, "seqnum", &seq) || !gst_structure_get_uint (s, "ssrc", &ssrc))
    return GST_PAD_PROBE_OK;
  // Our own upward probe's padding (send_probe_packets): not a
  // retransmission, kept out of the budget and its counters.
  if (gst_structure_has_field (s, kProbeField))
    return GST_PAD_PROBE_OK;
  RetransmissionBudget::Verdict v;
  {
    std::lock_guard<std::mutex> lk (w->cc->rtx.lock);
    v = w->cc->rtx.budget.on_request (ssrc, (guint16) seq, now_us ());
  }
  GST_LOG_OBJECT (w->owner, "consumer session %s asks for packet %u of SSRC %08x: %s",
      w->session_id.c_str (), seq, ssrc, verdict_name (v));
  return v == RetransmissionBudget::Verdict::Send ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

// Worker thread: the probes on the rtprtxsend inside the consumer's
// webrtcbin, once webrtcbin made it (when the media's RTP session starts).
void
watch_retransmissions (RtcstreamSink *self, const std::string &session_id, Consumer &c)
{
  Congestion &cc = *c.congestion;
  if (cc.rtx_watched)
    return;
  for (GstElement *e : elements_inside (GST_BIN (c.session->webrtcbin ()))) {
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_strcmp0 (GST_OBJECT_NAME (f), "rtprtxsend") == 0) {
      GstPad *sink = gst_element_get_static_pad (e, "sink");
      GstPad *src = gst_element_get_static_pad (e, "src");
      if (sink && src) {
        gst_pad_add_probe (sink, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
            GST_PAD_PROBE_TYPE_BUFFER_LIST), on_media_packets,
            new RtxWatch {self, session_id, c.congestion},
            [] (gpointer data) { delete static_cast<RtxWatch *> (data); });
        gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_retransmission_request,
            new RtxWatch {self, session_id, c.congestion},
            [] (gpointer data) { delete static_cast<RtxWatch *> (data); });
        cc.rtx_watched = true;
        g_weak_ref_set (&cc.rtx_src, src);
        GST_DEBUG_OBJECT (self, "consumer session %s: its retransmissions are budgeted",
            session_id.c_str ());
      }
      if (sink)
        gst_object_unref (sink);
      if (src)
        gst_object_unref (src);
    }
    gst_object_unref (e);
  }
}

// webrtcbin's RTCP thread.
GstPadProbeReturn
on_upstream_event (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *w = static_cast<FeedbackWatch *> (data);
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  const GstStructure *s = gst_event_get_structure (ev);
  if (GST_EVENT_TYPE (ev) != GST_EVENT_CUSTOM_UPSTREAM || !s ||
      !gst_structure_has_name (s, "RTPTWCCPackets"))
    return GST_PAD_PROBE_OK;
  if (!w->feed)
    return GST_PAD_PROBE_DROP;  // nobody upstream wants it
  guint64 unmatched = 0;
  std::vector<PacketFeedback> packets = parse_twcc (s, &unmatched);
  bool post = false;
  guint estimate;
  {
    std::lock_guard<std::mutex> lk (w->cc->lock);
    w->cc->unmatched += unmatched;
    const gint64 now = now_us ();
    BandwidthEstimator &e = w->cc->estimator;
    e.on_transport_feedback (packets, now);
    if (auto r = w->cc->probe.on_feedback (packets, now)) {
      const guint before = e.estimate_bps ();
      if (r->carried)
        e.on_probe_result (r->bps, now);
      else if (r->valid)
        e.on_probe_full (r->recv_bps, now);
      GST_DEBUG_OBJECT (w->owner, "consumer session %s: probe %u: %u packets, sent at %u, "
          "received at %u bit/s: %s; estimate %u -> %u bit/s", w->session_id.c_str (), r->id,
          r->packets, r->send_bps, r->recv_bps,
          !r->valid ? "too little arrived to tell" : !r->carried ? "the link was full"
                                                                 : "the link carried it",
          before, e.estimate_bps ());
    }
    estimate = e.estimate_bps ();
    if (std::fabs ((double) estimate - w->cc->posted_bps) > kApplyChange * w->cc->posted_bps) {
      w->cc->posted_bps = estimate;
      post = true;
    }
  }
  update_retransmission_budget (*w->cc);
  if (post) {
    GST_LOG_OBJECT (w->owner, "consumer session %s: estimate now %u bit/s",
        w->session_id.c_str (), estimate);
    std::string session = w->session_id;
    on_worker (w->owner, [session] (RtcstreamSink *self) { apply_bitrate (self, session); });
  }
  return GST_PAD_PROBE_DROP;
}

// The estimator's bounds for encoder bounds b: the estimate covers the
// video, the audio and the headroom.
BandwidthLimits
estimator_limits (const BitrateSettings &b, guint audio_bps)
{
  BandwidthLimits l;
  l.min_bps = (uint32_t) ((b.min_bps + audio_bps) / kHeadroom);
  l.start_bps = (uint32_t) ((b.start_bps + audio_bps) / kHeadroom);
  l.max_bps = (uint32_t) ((b.max_bps + audio_bps) / kHeadroom);
  return l;
}

// Worker thread: the picture size and frame rate of a video encoding group
// at its scaler's step, or the input's own when there is no scaler.
void
set_size (RtcstreamSink *self, EncoderGroup *g)
{
  const EncoderScaler *sc = g->scaler.get ();
  const bool input = !sc || sc->step () == 0;
  const int divisor = sc ? sc->divisor () : 1;
  GstCaps *caps = encoder_input_caps (*g->codec);
  if (!input && sc->size ().width > 0)
    gst_caps_set_simple (caps, "width", G_TYPE_INT, sc->size ().width, "height", G_TYPE_INT,
        sc->size ().height, nullptr);
  if (sc)
    GST_INFO_OBJECT (self, "%s encoder of %s now takes %dx%d, %.3g fps", g->codec->name,
        g->input->name.c_str (), sc->size ().width, sc->size ().height, sc->fps ());
  else
    GST_INFO_OBJECT (self, "%s encoder of %s now takes the input as it is", g->codec->name,
        g->input->name.c_str ());
  g_object_set (g->raw_filter, "caps", caps, nullptr);
  gst_caps_unref (caps);
  g->frame_divisor.store (divisor);
  g->picture_width.store (sc ? sc->size ().width : 0);
  g->picture_height.store (sc ? sc->size ().height : 0);
  g->picture_fps.store (sc ? sc->fps () : 0);
}

// Worker thread: group g's scaler, made when g first adapts to its one
// viewer (at target_bps): at the end of its link (its encoder then has not
// put out its first picture), else at the next tick.
void
start_scaler (RtcstreamSink *self, EncoderGroup *g, guint target_bps, gint64 now)
{
  gint width = 0, height = 0, fps_n = 30, fps_d = 1;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    if (g->input->caps && !gst_caps_is_empty (g->input->caps)) {
      const GstStructure *st = gst_caps_get_structure (g->input->caps, 0);
      gst_structure_get_int (st, "width", &width);
      gst_structure_get_int (st, "height", &height);
      gst_structure_get_fraction (st, "framerate", &fps_n, &fps_d);
    }
  }
  if (width <= 0 || height <= 0)
    return;  // no size to scale from
  g->input_fps = fps_n > 0 && fps_d > 0 ? (double) fps_n / fps_d : 0;
  g->scaler = std::make_unique<EncoderScaler> (width, height, g->input_fps);
  g->needs_key = std::string (g->input->name) + " " + g->codec->name + " " +
      std::to_string (width) + "x" + std::to_string (height) + "@" + std::to_string (fps_n) +
      "/" + std::to_string (fps_d);
  g->picture_width.store (width);
  g->picture_height.store (height);
  g->picture_fps.store (g->scaler->fps ());
  // Kept to its bitrate, the encoder drops frames when the content needs
  // more: the scaler's cue to shrink the picture.
  set_encoder_frame_dropping (*g->codec, g->encoder, true);
  // Start at the size this bitrate carries, by what earlier viewers'
  // encoders of this input learnt: at 1 Mbit/s a 720p picture whose
  // VP8 frames stayed at 7 KB whatever the bitrate ran at 13-22 fps for
  // 3 s, for every new viewer, until its scaler had seen it again
  // (docs/performance.md, a new viewer's first seconds).
  auto learnt = self->state->picture_needs.find (g->needs_key);
  const bool known = learnt != self->state->picture_needs.end ();
  if (g->scaler->start (known ? learnt->second.bps : std::vector<double> (),
          known ? (now - learnt->second.at_us) / (double) G_USEC_PER_SEC : 0, target_bps,
          now)) {
    GST_DEBUG_OBJECT (self, "%s encoder of %s: starts at step %zu for %u bit/s%s",
        g->codec->name, g->input->name.c_str (), g->scaler->step (), target_bps,
        known ? ", by what earlier viewers' encoders needed" : "");
    set_size (self, g);
    g->scaler_settling = true;
  }
}

// Worker thread, once a second for each video encoding group: the picture
// size that the group's bitrate (target_bps, when it adapts) allows.
void
update_size (RtcstreamSink *self, EncoderGroup *g, bool adapt, guint target_bps, gint64 now)
{
  guint64 bytes = g->encoded_bytes.load (), frames = g->encoded_frames.load ();
  // Nothing encoded since the last tick: the encoder does not run yet (its
  // consumer still connecting) or its input stalled. That says nothing of
  // the picture size: no "dropped every frame", which stepped a viewer
  // whose browser took 20 s to connect down to the smallest picture.
  if (adapt && g->scaler && g->scaler_tick_us && frames == g->scaler_frames) {
    g->scaler_tick_us = now;
    return;
  }
  guint output = 0;
  double share = 1;
  if (g->scaler_tick_us && now > g->scaler_tick_us) {
    double seconds = (now - g->scaler_tick_us) / (double) G_USEC_PER_SEC;
    output = (guint) ((bytes - g->scaler_bytes) * 8 / seconds);
    // (of the frames the encoder is given: 1 in the scaler's divisor)
    if (g->input_fps > 0)
      share = (frames - g->scaler_frames) * (g->scaler ? g->scaler->divisor () : 1) /
          (g->input_fps * seconds);
  }
  g->scaler_bytes = bytes;
  g->scaler_frames = frames;
  g->scaler_tick_us = now;
  if (!adapt || !g->raw_filter) {
    // Shared (or not adapting): the input's size and every frame, for everybody.
    if (g->scaler) {
      bool scaled = g->scaler->step () != 0;
      g->scaler.reset ();
      if (scaled)
        set_size (self, g);
      set_encoder_frame_dropping (*g->codec, g->encoder, false);
    }
    g->picture_width.store (0);
    g->picture_height.store (0);
    g->picture_fps.store (0);
    return;
  }
  if (!g->scaler) {
    start_scaler (self, g, target_bps, now);
    return;  // measured from now on
  }
  // The second after a change mixes both settings (and the new size's
  // first keyframe): it says nothing of either. Nor does one in which the
  // bitrate rose steeply (a probe found room: 256 kbit/s -> 1.5 Mbit/s in
  // 2 s): VP8's rate control, following it, put out 37% of the frames
  // that second, which read as "320x180 at 30 fps needs 4 Mbit/s" and kept
  // the picture at 15 fps for minutes.
  const guint last_target = g->scaler_target_bps;
  g->scaler_target_bps = target_bps;
  if (g->scaler_settling) {
    g->scaler_settling = false;
    return;
  }
  if (last_target && target_bps > kSteepRise * last_target) {
    GST_DEBUG_OBJECT (self, "%s encoder of %s: bitrate %u -> %u bit/s since the last second: "
        "not judged", g->codec->name, g->input->name.c_str (), last_target, target_bps);
    return;
  }
  const bool changed = g->scaler->update (target_bps, output, std::min (share, 1.0), now);
  self->state->picture_needs[g->needs_key] = {g->scaler->needs (), now};
  if (changed) {
    GST_DEBUG_OBJECT (self, "%s encoder of %s: bitrate %u, put out %u bit/s and %.0f%% of "
        "the frames: step %zu", g->codec->name, g->input->name.c_str (), target_bps, output,
        share * 100, g->scaler->step ());
    set_size (self, g);
    g->scaler_settling = true;
  }
}

// The bit rate of a byte counter read at last_us (0: never) and again at
// now_us; keep when the two readings cannot say (the first one, or the
// clock or the counter going back).
guint
counter_bps (guint64 bytes, gint64 now_us, guint64 last_bytes, gint64 last_us, guint keep)
{
  if (!last_us || now_us <= last_us || bytes < last_bytes)
    return keep;
  return (guint) ((bytes - last_bytes) * 8 * G_USEC_PER_SEC / (guint64) (now_us - last_us));
}

// What each raw video branch of consumer c gets of a link of bps.
guint
video_share (guint bps, guint audio_bps, const Consumer &c)
{
  size_t n = std::count_if (c.branches.begin (), c.branches.end (), [] (const Branch &b) {
    return b.group->codec->kind == MediaKind::Video && b.group->encodes;
  });
  return n ? (guint) (std::max (0.0, bps * kHeadroom - audio_bps) / n) : 0;
}

// Ticks in a row after which pre-encoded video that needs more than a
// congested link's estimate is said not to fit it (and back).
constexpr int kThinTicks = 3;

// Worker thread, once a second: pre-encoded video cannot follow the
// estimate. When what it sends needs more than the estimate leaves it, on a
// link that shows congestion (queueing delay or loss), for kThinTicks, the
// consumer's stats say so (link-too-thin) and one bus warning per consumer
// names it; the media keeps flowing.
void
check_passthrough (RtcstreamSink *self, Consumer &c, guint64 bytes, gint64 tick_us)
{
  Congestion &cc = *c.congestion;
  bool warn = false;
  guint need = 0, room = 0;
  {
    std::lock_guard<std::mutex> lk (cc.lock);
    cc.passthrough_bps = counter_bps (bytes, tick_us, cc.passthrough_bytes,
        cc.passthrough_tick_us, cc.passthrough_bps);
    cc.passthrough_bytes = bytes;
    cc.passthrough_tick_us = tick_us;
    const BandwidthEstimator &e = cc.estimator;
    need = cc.passthrough_bps;
    room = (guint) std::max (0.0, media_bps (cc, e.estimate_bps ()) * kHeadroom - cc.audio_bps);
    const bool thin = need > room;
    const bool congested = e.usage () == BandwidthEstimator::Usage::Over || e.loss () > 0.05;
    if (thin != cc.too_thin) {
      cc.thin_ticks++;
      cc.thin_congested = cc.thin_congested || congested;
      if (cc.thin_ticks >= kThinTicks && (!thin || cc.thin_congested)) {
        cc.too_thin = thin;
        cc.thin_ticks = 0;
        cc.thin_congested = false;
        warn = thin && !cc.thin_warned;
        cc.thin_warned = cc.thin_warned || thin;
      }
    } else {
      cc.thin_ticks = 0;
      cc.thin_congested = false;
    }
  }
  if (!warn)
    return;
  const std::string &peer = c.session->peer_id ();
  GST_ELEMENT_WARNING (self, STREAM, ENCODE,
      ("The link to viewer %s carries about %u kbit/s, less than the %u kbit/s of the "
       "pre-encoded video, which rtcstreamsink cannot re-encode: that viewer will lose "
       "frames. Give rtcstreamsink raw video to adapt to each viewer, or encode less.",
          peer.c_str (), room / 1000, need / 1000),
      ("consumer %s, session %s; its stats say link-too-thin", peer.c_str (),
          c.session->id ().c_str ()));
}

// Worker thread: sets the video encoders that serve this consumer to its
// estimate (alone in their group) or to max-bitrate (shared). On the
// once-a-second tick (tick_us, else 0) their picture size follows.
void
apply_bitrate (RtcstreamSink *self, const std::string &session_id, gint64 tick_us)
{
  State *st = self->state;
  auto it = st->consumers.find (session_id);
  if (it == st->consumers.end () || !it->second->congestion)
    return;
  Consumer &c = *it->second;
  BitrateSettings b;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    b = st->bitrates;
  }
  guint estimate, audio;
  {
    std::lock_guard<std::mutex> lk (c.congestion->lock);
    estimate = c.congestion->estimator.estimate_bps ();
    audio = c.congestion->audio_bps;
  }
  std::vector<EncoderGroup *> video;
  guint64 passthrough_bytes = 0;
  bool passthrough = false;
  for (Branch &br : c.branches) {
    if (br.group->codec->kind != MediaKind::Video)
      continue;
    if (br.group->encodes) {
      video.push_back (br.group);
    } else {
      passthrough = true;
      passthrough_bytes += br.group->encoded_bytes.load ();
    }
  }
  if (passthrough && tick_us)
    check_passthrough (self, c, passthrough_bytes, tick_us);
  // (What retransmissions use of the link is not the encoder's.)
  const guint media = media_bps (*c.congestion, estimate);
  double share = video.empty () ? 0
      : std::max (0.0, media * kHeadroom - audio) / (double) video.size ();
  guint target = 0;
  for (EncoderGroup *g : video) {
    // Alone on its input's video (no ladder): the encoder follows this
    // consumer. A rendition other than the full one keeps its bitrate.
    bool adapt = b.congestion_control && g->rendition == 0 && g->consumers == 1 &&
        viewers_of (self, g->input, g->codec) == 1;
    // (A min-bitrate set above max-bitrate gives way to it.)
    guint want = adapt ? (guint) std::clamp<double> (share, std::min (b.min_bps, b.max_bps),
        b.max_bps) : g->rendition ? g->size.bps : b.max_bps;
    guint have = encoder_bitrate (*g->codec, g->encoder);
    if (have == 0 || std::fabs ((double) have - want) > kEncoderChange * have) {
      GST_DEBUG_OBJECT (self, "%s encoder of %s, rendition %zu: %u -> %u bit/s (%s)",
          g->codec->name, g->input->name.c_str (), g->rendition, have, want,
          adapt ? "follows its consumer's estimate"
                : g->rendition ? "the rendition's bitrate" : "shared or not adapting: max-bitrate");
      set_encoder_bitrate (*g->codec, g->encoder, want);
    }
    if (adapt)
      target += want;
    g->keyframe_budget_bps.store (adapt ? media : 0);
    if (tick_us) {
      update_size (self, g, adapt, want, tick_us);
    } else if (adapt && !g->scaler && g->raw_filter) {
      // Its viewer has just linked: the size its bitrate carries from the
      // first picture on, not one tick later. That tick, within a second,
      // judges nothing (as after a change), the next one a whole second.
      const gint64 now = now_us ();
      g->scaler_bytes = g->encoded_bytes.load ();
      g->scaler_frames = g->encoded_frames.load ();
      g->scaler_tick_us = now;
      start_scaler (self, g, want, now);
      g->scaler_settling = true;
    }
  }
  std::lock_guard<std::mutex> lk (c.congestion->lock);
  c.congestion->target_bps = target;
}

}  // namespace

guint
initial_video_bitrate (const BitrateSettings &b)
{
  return b.congestion_control ? b.start_bps : b.max_bps;
}

// Worker thread, at the end of link_consumer.
void
watch_congestion (RtcstreamSink *self, const std::string &session_id, Consumer &c)
{
  BitrateSettings b;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    b = self->state->bitrates;
  }
  guint audio = 0;
  for (Branch &br : c.branches)
    if (br.group->codec->kind == MediaKind::Audio)
      audio += br.group->encodes ? encoder_bitrate (*br.group->codec, br.group->encoder)
                                 : kPassThroughAudioBps;
  auto cc = std::make_shared<Congestion> ();
  cc->audio_bps = audio;
  cc->estimator = BandwidthEstimator (estimator_limits (b, audio));
  cc->posted_bps = cc->estimator.estimate_bps ();
  {
    std::lock_guard<std::mutex> lk (self->state->lock);  // stats read it
    c.congestion = cc;
  }
  for (size_t i = 0; i < c.branches.size (); i++) {
    GstPad *pad = gst_element_get_static_pad (c.branches[i].payloader, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream_event,
        new FeedbackWatch {self, session_id, cc, i == 0},
        [] (gpointer data) { delete static_cast<FeedbackWatch *> (data); });
    gst_object_unref (pad);
  }
  watch_retransmissions (self, session_id, c);
  apply_bitrate (self, session_id);
}

// Worker thread: sends what is due of consumer cc's probe cluster, paced at
// its padding rate: retransmission requests for recently sent packets, onto
// the rtprtxsend inside its webrtcbin, marked kProbeField (which its
// retransmission budget lets through uncounted). The copies go through the
// RTP session (numbered by TWCC) on rtprtxsend's own thread; receivers drop
// them as duplicates. Runs again after a delay until the cluster is out,
// then tells the probe when it went out.
void
send_probe_packets (RtcstreamSink *self, const std::string &session_id,
    const std::shared_ptr<Congestion> &cc)
{
  Congestion::ProbeSend *ps = cc->probe_send.get ();
  if (!ps)
    return;
  auto it = self->state->consumers.find (session_id);
  Ref<GstPad> pad = Ref<GstPad>::adopt (static_cast<GstPad *> (g_weak_ref_get (&cc->rtx_src)));
  const bool gone = it == self->state->consumers.end () || it->second->congestion != cc ||
      !pad || ps->packets.empty ();
  gint64 now = now_us ();
  if (!gone) {
    const double due = ps->padding_bps * (double) (now - ps->start_us) / 8e6;
    while (ps->bytes < ps->max_bytes && (ps->sent == 0 || ps->bytes < due)) {
      const RetransmissionBudget::Packet &p = ps->packets[ps->sent % ps->packets.size ()];
      GstStructure *req = gst_structure_new ("GstRTPRetransmissionRequest", "seqnum", G_TYPE_UINT,
          (guint) p.seq, "ssrc", G_TYPE_UINT, p.ssrc, kProbeField, G_TYPE_UINT, ps->id, nullptr);
      gst_pad_send_event (pad.get (), gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, req));
      ps->bytes += p.bytes;
      ps->sent++;
      ps->last_us = now_us ();
    }
    now = now_us ();
    const bool done = ps->bytes >= ps->max_bytes || now - ps->start_us > kProbeMaxSendUs;
    if (!done) {
      const double ahead_us = (ps->bytes - ps->padding_bps * (double) (now - ps->start_us) / 8e6) *
          8e6 / std::max (ps->padding_bps, 1u);
      Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
      std::string session = session_id;
      std::shared_ptr<Congestion> keep = cc;
      self->state->worker->post_delayed ((guint) std::clamp (ahead_us / 1000, 1.0, 100.0),
          [ref, session, keep] {
            if (ref->state->started)
              send_probe_packets (ref.get (), session, keep);
          });
      return;
    }
  }
  GST_DEBUG_OBJECT (self, "consumer session %s: probe %u: %u packets of padding (%" G_GUINT64_FORMAT
      " bytes) sent in %" G_GINT64_FORMAT " ms%s", session_id.c_str (), ps->id, ps->sent, ps->bytes,
      (ps->last_us - ps->start_us) / 1000, gone ? " (the session went away)" : "");
  {
    std::lock_guard<std::mutex> lk (cc->lock);
    cc->probe.on_sent (ps->id, ps->start_us, ps->last_us, gone ? 0 : ps->sent, ps->bytes);
    if (!gone && ps->sent)
      cc->estimator.on_probe_sent (ps->last_us);
  }
  cc->probe_send.reset ();
}

// Worker thread, on the once-a-second tick: whether consumer cc's link is
// to be probed upward now (rtcstream/probe.h), and if so the cluster's
// first packets.
void
maybe_probe (RtcstreamSink *self, const std::string &session_id,
    const std::shared_ptr<Congestion> &cc, guint max_bps, gint64 now)
{
  std::vector<RetransmissionBudget::Packet> copies;
  Ref<GstPad> pad = Ref<GstPad>::adopt (static_cast<GstPad *> (g_weak_ref_get (&cc->rtx_src)));
  if (pad && !cc->probe_send) {
    std::lock_guard<std::mutex> lk (cc->rtx.lock);
    copies = cc->rtx.budget.recent (now, kProbeCopyAgeUs, kProbeCopies);
  }
  guint64 total = 0;
  for (const RetransmissionBudget::Packet &p : copies)
    total += p.bytes;
  const guint avg = copies.empty () ? 0 : (guint) (total / copies.size ());
  std::optional<BandwidthProbe::Plan> plan;
  BandwidthProbe::Link link;
  {
    std::lock_guard<std::mutex> lk (cc->lock);
    const BandwidthEstimator &e = cc->estimator;
    link.estimate_bps = e.estimate_bps ();
    link.max_bps = max_bps;
    link.sent_bps = cc->sent_bps;
    link.congested = e.usage () == BandwidthEstimator::Usage::Over ||
        e.loss () > kProbeQuietLoss || e.queue_delay_ms () > kProbeQuietQueueMs;
    plan = cc->probe.tick (link, avg, now);
  }
  if (!plan)
    return;
  GST_DEBUG_OBJECT (self, "consumer session %s: probe %u at %u bit/s (estimate %u, sent %u): "
      "%u bit/s of padding for at least %" G_GINT64_FORMAT " ms, at most %" G_GUINT64_FORMAT
      " bytes, copies of %zu packets of ~%u bytes", session_id.c_str (), plan->id,
      plan->target_bps, link.estimate_bps, link.sent_bps, plan->padding_bps,
      plan->min_duration_us / 1000, plan->max_bytes, copies.size (), avg);
  auto ps = std::make_unique<Congestion::ProbeSend> ();
  ps->id = plan->id;
  ps->packets = std::move (copies);
  ps->padding_bps = plan->padding_bps;
  ps->max_bytes = plan->max_bytes;
  ps->start_us = ps->last_us = now_us ();
  cc->probe_send = std::move (ps);
  send_probe_packets (self, session_id, cc);
}

// Worker thread, every second.
void
update_congestion (RtcstreamSink *self)
{
  State *st = self->state;
  BitrateSettings b;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    b = st->bitrates;
  }
  for (auto &kv : st->consumers) {
    std::shared_ptr<Congestion> cc = kv.second->congestion;
    if (!cc)
      continue;
    watch_retransmissions (self, kv.first, *kv.second);
    SessionStats ss = kv.second->session->stats ();
    gint64 now = now_us ();
    bool congested = false;
    guint share = 0, capacity_share = 0, max_bps = 0;
    {
      std::lock_guard<std::mutex> lk (cc->lock);
      const BandwidthLimits limits = estimator_limits (b, cc->audio_bps);
      max_bps = limits.max_bps;
      cc->estimator.set_limits (limits);
      // What was sent: from TWCC when it comes (exact, per packet), else
      // from the session's bytes-sent (stats refreshed every second).
      if (cc->estimator.has_transport_feedback (now))
        cc->sent_bps = cc->estimator.sent_bps ();
      else
        cc->sent_bps = counter_bps (ss.bytes_sent, now, cc->last_bytes_sent, cc->last_tick_us,
            cc->sent_bps);
      cc->last_bytes_sent = ss.bytes_sent;
      cc->last_tick_us = now;
      // A new receiver report: its loss (used while no TWCC comes) and round trip.
      if (ss.fraction_lost >= 0 && ss.report_key != cc->report_key) {
        cc->report_key = ss.report_key;
        cc->estimator.on_receiver_report (ss.fraction_lost, ss.rtt_ms, now);
      }
      // A new REMB: the most the receiver says it can take bounds the estimate.
      if (ss.remb_count != cc->remb_count) {
        cc->remb_count = ss.remb_count;
        cc->estimator.on_remb (ss.remb_bps, now);
      }
      cc->posted_bps = cc->estimator.estimate_bps ();
      const BandwidthEstimator &e = cc->estimator;
      // For the ladder: the video's share of the estimate and of where the
      // link was last congested, and whether it showed congestion since the
      // last tick: a queue building now, loss, or the delay-based rate cut
      // (it falls only on overuse; the estimate also falls when the viewer
      // merely receives less, as its bound of 1.5 times that follows).
      guint estimate = e.estimate_bps ();
      congested = e.usage () == BandwidthEstimator::Usage::Over || e.loss () > 0.05 ||
          (cc->tick_delay_based && e.delay_based_bps () < 0.97 * cc->tick_delay_based);
      cc->tick_delay_based = e.delay_based_bps ();
      share = video_share (media_bps (*cc, estimate), cc->audio_bps, *kv.second);
      capacity_share = e.capacity_bps () ? video_share (e.capacity_bps (), cc->audio_bps,
          *kv.second) : 0;
      GST_DEBUG_OBJECT (self, "consumer %s: estimate %u (delay-based %u, received %u), sent %u "
          "bit/s, loss %.3f, rtt %.0f ms, queue %.0f ms, trend %.1f / threshold %.1f ms: %s, capacity %u; "
          "TWCC so far: %" G_GUINT64_FORMAT " packets reported, %" G_GUINT64_FORMAT " lost, %"
          G_GUINT64_FORMAT " unknown to rtpsession, %" G_GUINT64_FORMAT " delay groups, %"
          G_GUINT64_FORMAT " jumps of the receiver's clock",
          kv.second->session->peer_id ().c_str (), e.estimate_bps (), e.delay_based_bps (),
          e.received_bps (), cc->sent_bps, e.loss (), e.rtt_ms (), e.queue_delay_ms (), e.trend_ms (),
          e.threshold_ms (), usage_name (e.usage ()), e.capacity_bps (), e.reported_packets (),
          e.reported_lost (), cc->unmatched, e.delay_groups (), e.clock_jumps ());
    }
    update_retransmission_budget (*cc);
    {
      std::lock_guard<std::mutex> lk (cc->rtx.lock);
      RetransmissionBudget &rtx = cc->rtx.budget;
      GST_DEBUG_OBJECT (self, "consumer %s: retransmissions %u bit/s, %" G_GUINT64_FORMAT
          " sent, %" G_GUINT64_FORMAT " requests dropped", kv.second->session->peer_id ().c_str (),
          rtx.bps (now), rtx.resent (), rtx.dropped ());
    }
    if (b.congestion_control && b.probing)
      maybe_probe (self, kv.first, cc, max_bps, now);
    if (kv.second->linked)
      update_renditions (self, kv.first, *kv.second, share, congested, capacity_share, now);
    apply_bitrate (self, kv.first, now);
  }
}

void
add_congestion_stats (GstStructure *s, const Consumer &c)
{
  guint estimate = 0, target = 0, sent = 0, passthrough = 0, remb = 0, rtx_bps = 0;
  guint64 rtx_sent = 0, rtx_dropped = 0, probes = 0, probes_found = 0, probe_bytes = 0;
  guint probe_sent_bps = 0, probe_recv_bps = 0, received = 0;
  guint64 reported = 0, reported_lost = 0, unmatched = 0, groups = 0, jumps = 0;
  bool too_thin = false, probe_carried = false;
  double loss = 0, queue_ms = 0;
  const char *feedback = "none", *usage = "normal";
  if (c.congestion) {
    std::lock_guard<std::mutex> lk (c.congestion->lock);
    passthrough = c.congestion->passthrough_bps;
    too_thin = c.congestion->too_thin;
    const BandwidthEstimator &e = c.congestion->estimator;
    estimate = e.estimate_bps ();
    target = c.congestion->target_bps;
    sent = c.congestion->sent_bps;
    loss = e.loss ();
    remb = e.remb_bps ();
    usage = usage_name (e.usage ());
    received = e.received_bps ();
    queue_ms = e.queue_delay_ms ();
    reported = e.reported_packets ();
    reported_lost = e.reported_lost ();
    groups = e.delay_groups ();
    jumps = e.clock_jumps ();
    unmatched = c.congestion->unmatched;
    const BandwidthProbe &p = c.congestion->probe;
    probes = p.probes ();
    probes_found = p.found_more ();
    probe_bytes = p.padding_bytes ();
    if (p.last ()) {
      probe_sent_bps = p.last ()->send_bps;
      probe_recv_bps = p.last ()->recv_bps;
      probe_carried = p.last ()->carried;
    }
    if (e.has_transport_feedback (now_us ()))
      feedback = remb ? "transport-cc+remb" : "transport-cc";
    else if (remb)
      feedback = "remb";
    else if (c.congestion->report_key)
      feedback = "receiver-reports";
    std::lock_guard<std::mutex> rlk (c.congestion->rtx.lock);
    RetransmissionBudget &rtx = c.congestion->rtx.budget;
    rtx_bps = rtx.bps (now_us ());
    rtx_sent = rtx.resent ();
    rtx_dropped = rtx.dropped ();
  }
  gst_structure_set (s, "bandwidth-estimate", G_TYPE_UINT, estimate,
      "bitrate-target", G_TYPE_UINT, target,
      "bitrate-sent", G_TYPE_UINT, sent,
      "retransmission-bitrate", G_TYPE_UINT, rtx_bps,
      "retransmissions-sent", G_TYPE_UINT64, rtx_sent,
      "retransmissions-dropped", G_TYPE_UINT64, rtx_dropped,
      "probes-sent", G_TYPE_UINT64, probes,
      "probes-found-more", G_TYPE_UINT64, probes_found,
      "probe-bytes", G_TYPE_UINT64, probe_bytes,
      "last-probe-sent-bitrate", G_TYPE_UINT, probe_sent_bps,
      "last-probe-received-bitrate", G_TYPE_UINT, probe_recv_bps,
      "last-probe-carried", G_TYPE_BOOLEAN, probe_carried,
      "packet-loss", G_TYPE_DOUBLE, loss,
      "remb", G_TYPE_UINT, remb,
      "feedback", G_TYPE_STRING, feedback,
      "congestion", G_TYPE_STRING, usage,
      "queue-delay", G_TYPE_DOUBLE, queue_ms,
      "bitrate-received", G_TYPE_UINT, received,
      "feedback-packets", G_TYPE_UINT64, reported,
      "feedback-lost", G_TYPE_UINT64, reported_lost,
      "feedback-unmatched", G_TYPE_UINT64, unmatched,
      "delay-groups", G_TYPE_UINT64, groups,
      "receiver-clock-jumps", G_TYPE_UINT64, jumps,
      "pre-encoded-bitrate", G_TYPE_UINT, passthrough,
      "link-too-thin", G_TYPE_BOOLEAN, too_thin, nullptr);
}

}  // namespace rtcstream::sink
