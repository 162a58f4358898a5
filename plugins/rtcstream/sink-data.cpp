// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsink's data pads (data_%u): GstBuffers of any caps sent to every
// consumer on a data channel of their own, one per pad (the wire format:
// rtcstream/datastream.h, docs/protocol.md).
//
// Flow control, on the pad's streaming thread (the chain function waits;
// flush-start and PAUSED to READY wake it):
//  - reliable (the default): a buffer goes out once every consumer's
//    channel has room: its buffered-amount under kBufferedHigh and its
//    unacknowledged bytes under the window (the receiver acknowledges what
//    its downstream took). Until the first consumer's channel opens, the pad
//    waits: a file is sent from its first byte. A consumer that holds the
//    pad up for longer than data-stall-timeout is removed (with a warning),
//    so one slow viewer cannot stall the others forever.
//  - partially reliable (data-max-retransmits or data-max-packet-lifetime):
//    never waits; a consumer whose channel holds more than kFreshQueue
//    bytes misses that buffer, and with no consumer buffers are dropped.
//
// Links (one per data pad and consumer) are made and removed on the worker,
// used on the streaming thread; data_gate's lock guards the lists.
#include "sink-private.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "rtcstream/datastream.h"

namespace rtcstream::sink {

using datastream::Link;

namespace {

// A reliable channel takes buffers while this little is waiting in it.
constexpr guint64 kBufferedHigh = 4 * 1024 * 1024;
// A partially reliable channel gets buffers while this little is waiting
// in it: what is in it is what a stalled receiver would see late.
constexpr guint64 kFreshQueue = 64 * 1024;

DataInput *
input_of (GstPad *pad)
{
  return static_cast<DataInput *> (gst_pad_get_element_private (pad));
}

bool
fresh_mode (const DataSettings &d)
{
  return d.max_retransmits >= 0 || d.max_packet_lifetime >= 0;
}

// Worker: a consumer that held up the data pads too long goes.
void
drop_slow_consumer (RtcstreamSink *self, const std::string &session, guint timeout_ms)
{
  on_worker (self, [session, timeout_ms] (RtcstreamSink *self) {
    std::string peer = peer_of (self, session);
    if (peer.empty ())
      return;
    warn_consumer (self, peer, "it took no data for " + std::to_string (timeout_ms) +
        " ms (data-stall-timeout) and held up the data pads for every consumer; removed");
    remove_consumer (self, session, true);
  });
}

enum class Wait { Ready, Flushing };

// Streaming thread, gate lock held (released while the channels are asked
// for their state: no lock of ours is held while calling into webrtcbin):
// waits until the buffer may go out, and fills targets with the links it
// goes to.
Wait
wait_for_room (RtcstreamSink *self, DataInput *in, std::unique_lock<std::mutex> &lk,
    std::vector<std::shared_ptr<Link>> &targets)
{
  DataGate &gate = *self->state->data_gate;
  const bool fresh = in->fresh;
  const gint64 stall_us = (gint64) in->stall_timeout_ms * 1000;
  for (;;) {
    if (in->flushing)
      return Wait::Flushing;
    std::vector<std::shared_ptr<Link>> links = in->links;
    targets.clear ();
    std::vector<std::shared_ptr<Link>> stalled;
    bool any_open = false, waiting = false;
    lk.unlock ();
    const gint64 now = g_get_monotonic_time ();
    for (const std::shared_ptr<Link> &l : links) {
      if (!l->open ())
        continue;
      any_open = true;
      const guint64 buffered = l->buffered ();
      bool room = l->fresh () ? buffered <= kFreshQueue
                              : buffered <= kBufferedHigh &&
                                    l->sent - l->acked <= datastream::kDefaultWindow;
      if (room) {
        l->blocked_since = 0;
        targets.push_back (l);
      } else if (!l->fresh ()) {
        if (!l->blocked_since)
          l->blocked_since = now;
        if (stall_us > 0 && now - l->blocked_since > stall_us)
          stalled.push_back (l);
        else
          waiting = true;
      }
    }
    lk.lock ();
    for (auto &l : stalled) {
      GST_WARNING_OBJECT (self, "%s: session %s took nothing for %u ms: dropping it",
          in->name.c_str (), l->session ().c_str (), in->stall_timeout_ms);
      drop_slow_consumer (self, l->session (), in->stall_timeout_ms);
      in->links.erase (std::remove (in->links.begin (), in->links.end (), l), in->links.end ());
    }
    if (in->flushing)
      return Wait::Flushing;
    if (!waiting && (any_open || fresh))
      return Wait::Ready;
    gate.cv.wait_for (lk, std::chrono::milliseconds (50));
  }
}

GstFlowReturn
data_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  auto *self = RTCSTREAM_SINK (parent);
  DataInput *in = input_of (pad);
  g_autoptr (GstBuffer) owned = buffer;
  std::vector<std::shared_ptr<Link>> targets;
  std::string caps;
  guint generation;
  guint32 seq;
  {
    std::unique_lock<std::mutex> lk (self->state->data_gate->lock);
    if (wait_for_room (self, in, lk, targets) == Wait::Flushing)
      return GST_FLOW_FLUSHING;
    caps = in->caps;
    generation = in->caps_generation;
    seq = in->seq++;
  }
  if (targets.empty ()) {
    GST_LOG_OBJECT (self, "%s: no consumer has room, buffer %u dropped", in->name.c_str (), seq);
    return GST_FLOW_OK;
  }
  gsize max_message = datastream::kMaxMessage;
  for (auto &l : targets)
    max_message = MIN (max_message, l->max_message ());
  std::vector<GBytes *> messages = datastream::buffer_messages (buffer, seq, max_message);
  const gsize size = gst_buffer_get_size (buffer);
  for (auto &l : targets) {
    if (l->caps_generation != generation) {
      g_autoptr (GBytes) m = datastream::caps_message (caps);
      l->send (m);
      l->caps_generation = generation;
    }
    bool ok = true;
    for (GBytes *m : messages)
      ok = ok && l->send (m);
    if (ok)
      l->sent += size;
    else
      GST_DEBUG_OBJECT (self, "%s: session %s refused buffer %u", in->name.c_str (),
          l->session ().c_str (), seq);
  }
  for (GBytes *m : messages)
    g_bytes_unref (m);
  GST_LOG_OBJECT (self, "%s: buffer %u (%" G_GSIZE_FORMAT " bytes) to %zu consumers",
      in->name.c_str (), seq, size, targets.size ());
  return GST_FLOW_OK;
}

// Streaming thread: EOS goes to every consumer; a reliable stream ends here
// once each has acknowledged all it was sent (its downstream has it all),
// or it closed or stalled. A stream that reached no consumer first waits
// for one (an empty file is a file too).
bool
data_eos (RtcstreamSink *self, DataInput *in)
{
  std::vector<std::shared_ptr<Link>> targets;
  {
    std::unique_lock<std::mutex> lk (self->state->data_gate->lock);
    if (wait_for_room (self, in, lk, targets) == Wait::Flushing)
      return false;
    targets = in->links;
  }
  // Everyone that has a channel open, room or not.
  targets.erase (std::remove_if (targets.begin (), targets.end (),
      [] (const std::shared_ptr<Link> &l) { return !l->open (); }), targets.end ());
  g_autoptr (GBytes) eos = datastream::eos_message ();
  for (auto &l : targets) {
    if (l->caps_generation == 0) {
      g_autoptr (GBytes) m = datastream::caps_message (in->caps);
      l->send (m);
      l->caps_generation = in->caps_generation;
    }
    l->send (eos);
    l->eos_sent = true;
  }
  if (!in->fresh) {
    std::unique_lock<std::mutex> lk (self->state->data_gate->lock);
    const gint64 stall_us = (gint64) in->stall_timeout_ms * 1000;
    gint64 last_progress = g_get_monotonic_time ();
    guint64 last_acked = 0;
    for (;;) {
      if (in->flushing)
        return false;
      guint64 acked = 0;
      bool all = true;
      for (auto &l : targets) {
        acked += l->acked;
        all &= l->closed () || l->acked >= l->sent;
      }
      if (all)
        break;
      const gint64 now = g_get_monotonic_time ();
      if (acked != last_acked) {
        last_acked = acked;
        last_progress = now;
      } else if (stall_us > 0 && now - last_progress > stall_us) {
        GST_WARNING_OBJECT (self, "%s: consumers acknowledged nothing for %u ms: ending anyway",
            in->name.c_str (), in->stall_timeout_ms);
        break;
      }
      self->state->data_gate->cv.wait_for (lk, std::chrono::milliseconds (50));
    }
  }
  GST_INFO_OBJECT (self, "%s: EOS delivered to %zu consumers", in->name.c_str (),
      targets.size ());
  return true;
}

gboolean
data_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  auto *self = RTCSTREAM_SINK (parent);
  DataInput *in = input_of (pad);
  DataGate &gate = *self->state->data_gate;
  gboolean ret = TRUE;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      std::string text;
      if (!datastream::serialize_caps (caps, text)) {
        g_autofree gchar *s = gst_caps_to_string (caps);
        GST_ELEMENT_ERROR (self, STREAM, FORMAT,
            ("%s: these caps cannot be sent with a data stream: a field does not survive "
             "serialization (%s). Put a capsfilter with plain caps before the pad",
                in->name.c_str (), s), (nullptr));
        ret = FALSE;
        break;
      }
      GST_DEBUG_OBJECT (self, "%s caps %s", in->name.c_str (), text.c_str ());
      std::lock_guard<std::mutex> lk (gate.lock);
      in->caps = text;
      in->caps_generation++;
      break;
    }
    case GST_EVENT_FLUSH_START: {
      std::lock_guard<std::mutex> lk (gate.lock);
      in->flushing = true;
      gate.cv.notify_all ();
      break;
    }
    case GST_EVENT_FLUSH_STOP: {
      std::lock_guard<std::mutex> lk (gate.lock);
      in->flushing = false;
      break;
    }
    case GST_EVENT_EOS:
      if (data_eos (self, in)) {
        {
          std::lock_guard<std::mutex> lk (self->state->lock);
          in->eos = true;
        }
        input_ended (self);
      }
      break;
    default:
      break;
  }
  gst_event_unref (event);
  return ret;
}

// Any caps (the template names one type only: see rtcstreamsink.cpp).
gboolean
data_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter = nullptr;
      gst_query_parse_caps (query, &filter);
      GstCaps *any = gst_caps_new_any ();
      if (filter) {
        gst_query_set_caps_result (query, filter);
      } else {
        gst_query_set_caps_result (query, any);
      }
      gst_caps_unref (any);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS:
      gst_query_set_accept_caps_result (query, TRUE);
      return TRUE;
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

}  // namespace

DataInput::~DataInput () = default;

GstPad *
request_data_pad (RtcstreamSink *self, GstPadTemplate *templ, const gchar *name)
{
  State *st = self->state;
  auto in = std::make_unique<DataInput> ();
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (name && *name) {
      guint n = 0;
      if (sscanf (name, "data_%u", &n) != 1)
        return nullptr;
      in->name = name;
      st->data_pads = std::max (st->data_pads, n + 1);
    } else {
      in->name = "data_" + std::to_string (st->data_pads++);
    }
    for (auto &d : st->data_inputs)
      if (d->name == in->name)
        return nullptr;
    for (auto &i : st->inputs)
      if (i->name == in->name)
        return nullptr;
  }
  in->pad = gst_pad_new_from_template (templ, in->name.c_str ());
  gst_pad_set_element_private (in->pad, in.get ());
  gst_pad_set_chain_function (in->pad, data_chain);
  gst_pad_set_event_function (in->pad, data_event);
  gst_pad_set_query_function (in->pad, data_query);
  GstPad *pad = in->pad;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->data_inputs.push_back (std::move (in));
  }
  gst_element_add_pad (GST_ELEMENT (self), pad);
  GST_DEBUG_OBJECT (self, "new data pad %s", GST_PAD_NAME (pad));
  return pad;
}

bool
release_data_pad (RtcstreamSink *self, GstPad *pad)
{
  State *st = self->state;
  std::unique_ptr<DataInput> in;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    for (auto it = st->data_inputs.begin (); it != st->data_inputs.end (); ++it) {
      if ((*it)->pad == pad) {
        in = std::move (*it);
        st->data_inputs.erase (it);
        break;
      }
    }
  }
  if (!in)
    return false;
  {
    // A streaming thread waiting for room returns (deactivating the pad
    // waits for it).
    std::lock_guard<std::mutex> lk (st->data_gate->lock);
    in->flushing = true;
    st->data_gate->cv.notify_all ();
  }
  gst_element_remove_pad (GST_ELEMENT (self), pad);
  return true;
}

void
open_data_channels (RtcstreamSink *self, const std::string &session_id, GstElement *webrtc)
{
  State *st = self->state;
  DataSettings d;
  std::vector<DataInput *> inputs;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    d = st->data;
    for (auto &in : st->data_inputs)
      inputs.push_back (in.get ());
  }
  std::weak_ptr<DataGate> gate = st->data_gate;
  for (DataInput *in : inputs) {
    GstStructure *opts = gst_structure_new ("options", "ordered", G_TYPE_BOOLEAN, d.ordered,
        "protocol", G_TYPE_STRING, datastream::kProtocol, nullptr);
    if (d.max_retransmits >= 0)
      gst_structure_set (opts, "max-retransmits", G_TYPE_INT, d.max_retransmits, nullptr);
    else if (d.max_packet_lifetime >= 0)
      gst_structure_set (opts, "max-packet-lifetime", G_TYPE_INT, d.max_packet_lifetime,
          nullptr);
    GstWebRTCDataChannel *ch = nullptr;
    g_signal_emit_by_name (webrtc, "create-data-channel", in->name.c_str (), opts, &ch);
    gst_structure_free (opts);
    if (!ch) {
      warn_consumer (self, peer_of (self, session_id),
          "webrtcbin would not open a data channel for " + in->name);
      continue;
    }
    // On webrtcbin's threads, which may hold the channel's lock: no lock
    // taken here (a wake-up lost to the race costs a waiter its 50 ms).
    auto link = Link::make (session_id, ch, webrtc, [gate] {
      if (auto g = gate.lock ())
        g->cv.notify_all ();
    });
    gst_object_unref (ch);
    GST_INFO_OBJECT (self, "session %s: data channel %s (%s)", session_id.c_str (),
        in->name.c_str (), link->fresh () ? "partially reliable" : "reliable");
    std::lock_guard<std::mutex> lk (st->data_gate->lock);
    in->links.push_back (std::move (link));
  }
}

void
check_data_answer (RtcstreamSink *self, const std::string &session_id,
    const GstWebRTCSessionDescription *answer)
{
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    if (self->state->data_inputs.empty ())
      return;
  }
  for (guint m = 0; m < gst_sdp_message_medias_len (answer->sdp); m++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (answer->sdp, m);
    if (g_strcmp0 (gst_sdp_media_get_media (media), "application") == 0 &&
        gst_sdp_media_get_port (media) != 0)
      return;
  }
  warn_consumer (self, peer_of (self, session_id), "it takes no data channels (its answer "
      "has no m=application, or rejects it): the data pads are not sent to it");
  remove_data_links (self, session_id);
}

void
remove_data_links (RtcstreamSink *self, const std::string &session_id)
{
  State *st = self->state;
  std::vector<std::shared_ptr<Link>> gone;  // released with no lock held
  std::lock_guard<std::mutex> lk (st->lock);
  std::lock_guard<std::mutex> glk (st->data_gate->lock);
  for (auto &in : st->data_inputs) {
    for (auto it = in->links.begin (); it != in->links.end ();) {
      if ((*it)->session () == session_id) {
        gone.push_back (std::move (*it));
        it = in->links.erase (it);
      } else {
        ++it;
      }
    }
  }
  st->data_gate->cv.notify_all ();
}

void
add_data_stats (RtcstreamSink *self, GstStructure *s, const std::string &session_id)
{
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard<std::mutex> glk (self->state->data_gate->lock);
    for (auto &in : self->state->data_inputs)
      for (auto &l : in->links)
        if (l->session () == session_id)
          links.push_back (l);
  }
  guint open = 0;
  guint64 sent = 0;
  for (auto &l : links) {
    open += l->open () ? 1 : 0;
    sent += l->sent;
  }
  gst_structure_set (s, "data-streams-open", G_TYPE_UINT, open, "data-bytes-sent",
      G_TYPE_UINT64, sent, nullptr);
}

void
set_data_flushing (RtcstreamSink *self, bool flushing)
{
  State *st = self->state;
  // Every webrtcbin inside the element leaves PAUSED next, with the bin:
  // their sends of data must not be waiting then (see stop_data_sends).
  // All of them, not only the consumers': a consumer being removed on the
  // worker is out of the map while its webrtcbin is still here, and once
  // the bin has deactivated an sctpenc's src pad, that session's own
  // stop_data_sends in close comes too late (a flushing pad refuses
  // FLUSH_START): element-data hung so in fresh-clone CI.
  if (flushing)
    stop_data_sends (GST_BIN (self));
  std::lock_guard<std::mutex> lk (st->lock);
  std::lock_guard<std::mutex> glk (st->data_gate->lock);
  for (auto &in : st->data_inputs) {
    in->flushing = flushing;
    if (!flushing) {
      in->fresh = fresh_mode (st->data);
      in->stall_timeout_ms = st->data.stall_timeout_ms;
      in->seq = 0;
      in->eos = false;
      in->caps_generation = MAX (in->caps_generation, 1u);
    }
  }
  st->data_gate->cv.notify_all ();
}

}  // namespace rtcstream::sink
