// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsrc's playout delay: the latency of the session's jitterbuffers,
// fixed (latency=N) or, by default, adaptive: following what a
// PlayoutTarget (rtcstream/playout-target.h) measures on every packet
// that reaches a jitterbuffer.
//
// How a change takes effect, and why audio and video stay in sync: the
// target is one for the whole session, set on each of its jitterbuffers
// (webrtcbin's latency, which rtpbin hands to the jitterbuffers it makes,
// only to begin with: see apply). A jitterbuffer's latency is how long
// it waits for a missing packet (before asking again, and before giving it
// up), and what it adds to the pipeline's latency; it posts a LATENCY
// message when it changes, and the application redistributes the latency
// (gst_bin_recalculate_latency, as gst-launch-1.0 does): every sink then
// renders at timestamp + the new latency. Timestamps do not move (rtpbin's
// lip-sync offsets do not depend on the latency), so audio and video keep
// their alignment; a sink shows each change once, as a pause of the
// difference (up) or frames rendered at once or dropped (down).
//
// Threads: new-jitterbuffer and the probes run on rtpbin's and the
// jitterbuffers' streaming threads and take only Playout::lock; tick and
// apply run on the element's worker.
#include "src-private.h"

#include <gst/rtp/rtp.h>

#include <algorithm>
#include <map>

using namespace rtcstream;
using namespace rtcstream::src;

namespace {

// One jitterbuffer's probe: where it may ask for a payload type's clock rate.
struct ProbeCtx {
  std::shared_ptr<Playout> playout;
  GstElement *rtpbin;  // outlives its jitterbuffers
  guint session;
  std::map<guint8, guint32> clock_rates;  // the probe's streaming thread only
};

guint32
clock_rate (ProbeCtx *ctx, guint8 pt)
{
  auto it = ctx->clock_rates.find (pt);
  if (it != ctx->clock_rates.end ())
    return it->second;
  // As the jitterbuffer itself does (webrtcbin answers from the SDP).
  GstCaps *caps = nullptr;
  g_signal_emit_by_name (ctx->rtpbin, "request-pt-map", ctx->session, (guint) pt, &caps);
  gint rate = 0;
  if (caps) {
    if (gst_caps_get_size (caps) > 0)
      gst_structure_get_int (gst_caps_get_structure (caps, 0), "clock-rate", &rate);
    gst_caps_unref (caps);
  }
  ctx->clock_rates[pt] = rate > 0 ? (guint32) rate : 0;
  return ctx->clock_rates[pt];
}

// A jitterbuffer's streaming thread: a packet arrived.
bool
measure (GstBuffer *buf, ProbeCtx *ctx, gint64 now)
{
  // A retransmission is late by design: it says nothing of the jitter.
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_RTP_BUFFER_FLAG_RETRANSMISSION))
    return false;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return false;
  const guint32 ssrc = gst_rtp_buffer_get_ssrc (&rtp);
  const guint16 seq = gst_rtp_buffer_get_seq (&rtp);
  const guint32 ts = gst_rtp_buffer_get_timestamp (&rtp);
  const guint8 pt = gst_rtp_buffer_get_payload_type (&rtp);
  gst_rtp_buffer_unmap (&rtp);
  const guint32 rate = clock_rate (ctx, pt);
  std::lock_guard<std::mutex> lk (ctx->playout->lock);
  return ctx->playout->target.packet (ssrc, now, seq, ts, rate);
}

GstPadProbeReturn
on_packet (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *ctx = static_cast<ProbeCtx *> (data);
  const gint64 now = g_get_monotonic_time () * 1000;
  bool rose = false;
  if (GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info)) {
    rose = measure (buf, ctx, now);
  } else if (GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info)) {
    for (guint i = 0; i < gst_buffer_list_length (list); i++)
      rose = measure (gst_buffer_list_get (list, i), ctx, now) || rose;
  }
  if (rose && ctx->playout->adaptive && !ctx->playout->rise_pending.exchange (true))
    ctx->playout->on_rise ();
  return GST_PAD_PROBE_OK;
}

// rtpbin's thread: a stream's jitterbuffer was made (after webrtcbin's own
// handler, which set its do-retransmission from the transceiver).
void
on_new_jitterbuffer (GstElement *rtpbin, GstElement *jitterbuffer, guint session, guint,
    gpointer data)
{
  auto playout = *static_cast<std::shared_ptr<Playout> *> (data);
  {
    std::lock_guard<std::mutex> lk (playout->lock);
    auto ref = std::make_unique<GWeakRef> ();
    g_weak_ref_init (ref.get (), jitterbuffer);
    playout->jitterbuffers.push_back (std::move (ref));
    if (playout->adaptive) {
      // rtpbin made it with the latency it was given at the start (attach);
      // the target may have moved since. Retransmissions asked for gaps
      // only (a packet overtaken or lost), as libwebrtc's NACK does, not
      // for each next packet not there at its expected time: behind a
      // bottleneck whose queue grows, every packet is late, and each was
      // asked for again while it sat in the queue (behind 500 kbit/s, half
      // of what went out in the second after a cut was copies of packets
      // not lost), and given up on at its expected time plus the latency,
      // so that the target had to cover every packet's delay (PlayoutTarget).
      g_object_set (jitterbuffer, "do-retransmission", playout->nack, "latency",
          playout->applied_ms, "rtx-next-seqnum", FALSE, nullptr);
    }
  }
  g_autoptr (GstPad) pad = gst_element_get_static_pad (jitterbuffer, "sink");
  if (!pad)
    return;
  gst_pad_add_probe (pad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST), on_packet,
      new ProbeCtx{playout, rtpbin, session, {}},
      [] (gpointer data) { delete static_cast<ProbeCtx *> (data); });
}

}  // namespace

Playout::Playout (bool adaptive_, guint latency_ms, guint min_ms, guint max_ms,
    bool nack_allowed_)
    : adaptive (adaptive_), nack_allowed (nack_allowed_), target (min_ms, max_ms),
      applied_ms (adaptive_ ? min_ms : latency_ms)
{
  // Adaptive: NACK from when it is safe (apply).
  nack = nack_allowed && !adaptive && applied_ms >= kNackMinLatencyMs;
}

Playout::~Playout ()
{
  for (auto &ref : jitterbuffers)
    g_weak_ref_clear (ref.get ());
}

std::shared_ptr<Playout>
Playout::attach (GstElement *webrtcbin, bool adaptive, guint latency_ms, guint min_ms,
    guint max_ms, bool nack_allowed, std::function<void ()> on_rise)
{
  auto p = std::make_shared<Playout> (adaptive, latency_ms, min_ms, max_ms, nack_allowed);
  p->on_rise = std::move (on_rise);
  g_object_set (webrtcbin, "latency", p->applied_ms, nullptr);
  if (g_autoptr (GstElement) rtpbin = gst_bin_get_by_name (GST_BIN (webrtcbin), "rtpbin")) {
    g_signal_connect_data (rtpbin, "new-jitterbuffer", G_CALLBACK (on_new_jitterbuffer),
        new std::shared_ptr<Playout> (p), [] (gpointer data, GClosure *) {
          delete static_cast<std::shared_ptr<Playout> *> (data);
        }, (GConnectFlags) 0);
  }
  return p;
}

std::vector<GstElement *>
Playout::live_jitterbuffers ()
{
  std::vector<GstElement *> jbs;
  for (auto &ref : jitterbuffers)
    if (auto *jb = static_cast<GstElement *> (g_weak_ref_get (ref.get ())))
      jbs.push_back (jb);
  return jbs;
}

void
Playout::tick ()
{
  // The jitterbuffers' counters: losses, and retransmissions that arrived.
  std::vector<GstElement *> jbs;
  {
    std::lock_guard<std::mutex> lk (lock);
    jbs = live_jitterbuffers ();
  }
  guint64 lost = 0, recovered = 0, late = 0, duplicates = 0, rtt = 0;
  for (GstElement *jb : jbs) {
    GstStructure *s = nullptr;
    g_object_get (jb, "stats", &s, nullptr);
    if (s) {
      guint64 v = 0;
      if (gst_structure_get_uint64 (s, "num-lost", &v)) lost += v;
      if (gst_structure_get_uint64 (s, "num-late", &v)) late += v;
      if (gst_structure_get_uint64 (s, "rtx-success-count", &v)) recovered += v;
      if (gst_structure_get_uint64 (s, "num-duplicates", &v)) duplicates += v;
      if (gst_structure_get_uint64 (s, "rtx-rtt", &v)) rtt = std::max (rtt, v);
      gst_structure_free (s);
    }
    gst_object_unref (jb);
  }
  {
    std::lock_guard<std::mutex> lk (lock);
    // Counters of jitterbuffers that went (an SSRC that timed out) drop out
    // of the sums: only growth counts as a retransmission needed.
    packets_late = std::max (packets_late, late);
    // A packet given up on that arrived after all (late) was delayed, not
    // lost: jitter that the target had not caught up with yet, which asks
    // for a longer delay, not for room for retransmissions. Likewise a
    // retransmission whose original came too (a duplicate: the original was
    // only overtaken, or late) recovered nothing.
    const guint64 lost_for_good = lost > late ? lost - late : 0;
    const guint64 recovered_for_good = recovered > duplicates ? recovered - duplicates : 0;
    target.retransmissions (g_get_monotonic_time () * 1000, lost_for_good + recovered_for_good,
        (gint64) rtt);
  }
  apply ();
}

void
Playout::apply ()
{
  rise_pending = false;
  if (!adaptive)
    return;
  guint ms;
  bool want_nack, latency_changed, nack_changed;
  std::vector<GstElement *> jbs;
  {
    std::lock_guard<std::mutex> lk (lock);
    const gint64 now = g_get_monotonic_time () * 1000;
    ms = target.update (now);
    // NACK only where a retransmission has room to arrive (see
    // kNackMinLatencyMs): below that the jitterbuffer would give up on
    // packets a fraction of a millisecond late; and only while
    // retransmissions are needed (PlayoutTarget::nack_safe): with NACK the
    // jitterbuffer gives up on a packet later than its expected time plus
    // the latency even when it comes in order, and drops it when it comes.
    want_nack = nack_allowed && ms >= kNackMinLatencyMs && target.nack_safe (now);
    if (ms == applied_ms && want_nack == nack)
      return;
    latency_changed = ms != applied_ms;
    nack_changed = want_nack != nack;
    applied_ms = ms;
    nack = want_nack;
    jbs = live_jitterbuffers ();
  }
  // Each jitterbuffer directly, not webrtcbin's latency: rtpbin hands that
  // on under its own lock and then each session's, and in GStreamer 1.22 a
  // session's first packet holds its session's lock while webrtcbin's
  // new-jitterbuffer handler waits for webrtcbin's lock, which webrtcbin's
  // operation thread may hold while it waits for rtpbin's: a deadlock.
  for (GstElement *jb : jbs) {
    if (latency_changed) {
      GST_DEBUG_OBJECT (jb, "playout delay %u ms", ms);
      g_object_set (jb, "latency", ms, nullptr);
    }
    if (nack_changed)
      g_object_set (jb, "do-retransmission", want_nack, nullptr);
    gst_object_unref (jb);
  }
}

PlayoutStats
Playout::stats ()
{
  std::lock_guard<std::mutex> lk (lock);
  const gint64 now = g_get_monotonic_time () * 1000;
  return {applied_ms, adaptive, target.delay_ms (now), target.in_order_delay_ms (now), nack,
      packets_late};
}
