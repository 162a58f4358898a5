// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsrc's data pads (data_%u): a data stream the producer sends
// (rtcstreamsink's data pads, rtcstream.js' DataStream; wire format in
// rtcstream/datastream.h) comes out of a pad named as the sender's, with
// the sender's caps, buffers, timestamps and flags.
//
// Each pad is an appsrc inside the element (its own streaming thread),
// ghosted out, made when the producer's channel arrives (webrtcbin's
// on-data-channel thread: the pad is added there, like a demuxer's). The
// channel's messages (webrtcbin's thread for that channel) are reassembled
// and pushed into the appsrc, which never blocks:
//  - reliable: the appsrc's queue is bounded by the sender's window: what
//    the pad pushed downstream is acknowledged (from the appsrc's thread),
//    and the sender keeps at most a window unacknowledged;
//  - partially reliable: the queue keeps the newest kFreshBuffers buffers
//    (leaky), so that a downstream that stalled gets fresh ones when it
//    resumes rather than a backlog.
#include "src-private.h"

#include <gst/app/gstappsrc.h>

#include <chrono>
#include <mutex>

#include "rtcstream/datastream.h"

namespace rtcstream::src {

namespace {

// Buffers a partially reliable pad keeps for a downstream that stalled.
constexpr guint64 kFreshBuffers = 8;

using datastream::Reassembler;

struct DataCtx {
  RtcstreamSrc *self;  // the element outlives the channel's handlers
  std::weak_ptr<DataOutput> output;
};

void
send_ack (DataOutput &o, guint64 consumed)
{
  g_autoptr (GBytes) ack = datastream::ack_message (consumed);
  GError *err = nullptr;
  if (!gst_webrtc_data_channel_send_data_full (o.channel, ack, &err))
    g_clear_error (&err);  // closing: nothing more to acknowledge to
  o.acked = consumed;
}

// The appsrc's streaming thread: what goes downstream is acknowledged.
// A pad left unlinked drops its buffers here (acknowledged all the same, so
// that the producer is not held up), as the media pads do: an appsrc
// pushing into nothing would stop with an error.
GstPadProbeReturn
on_pushed (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *ctx = static_cast<DataCtx *> (data);
  auto o = ctx->output.lock ();
  if (!o)
    return GST_PAD_PROBE_OK;
  {
    // Our own streaming thread, a moment at most: the pad is being added.
    std::unique_lock<std::mutex> lk (o->exposed_lock);
    o->exposed_cond.wait_for (lk, std::chrono::seconds (2), [&] { return o->exposed; });
  }
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    o->consumed += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
    if (o->consumed - o->acked >= datastream::kDefaultWindow / 4)
      send_ack (*o, o->consumed);
    if (!gst_pad_is_linked (o->ghost))
      return GST_PAD_PROBE_DROP;
  } else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM &&
             GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    send_ack (*o, o->consumed);
    o->ended = true;
  }
  return GST_PAD_PROBE_OK;
}

// webrtcbin's thread of the channel: one message of the stream.
void
on_message (GstWebRTCDataChannel *, GBytes *bytes, gpointer data)
{
  auto *ctx = static_cast<DataCtx *> (data);
  auto o = ctx->output.lock ();
  if (!o)
    return;
  gsize size = 0;
  auto *p = static_cast<const guint8 *> (g_bytes_get_data (bytes, &size));
  Reassembler::Event ev = o->reassembler.feed (p, size);
  GstAppSrc *appsrc = GST_APP_SRC (o->appsrc);
  switch (ev.kind) {
    case Reassembler::Event::Caps:
      if (ev.caps) {
        GST_DEBUG_OBJECT (ctx->self, "%s caps %" GST_PTR_FORMAT, o->name.c_str (), ev.caps);
        gst_app_src_set_caps (appsrc, ev.caps);
        gst_caps_unref (ev.caps);
      }
      break;
    case Reassembler::Event::Buffer:
      o->got_data = true;
      o->received += gst_buffer_get_size (ev.buffer);
      gst_app_src_push_buffer (appsrc, ev.buffer);
      break;
    case Reassembler::Event::Eos:
      GST_INFO_OBJECT (ctx->self, "%s: the producer ended the stream", o->name.c_str ());
      if (!o->eos.exchange (true))
        gst_app_src_end_of_stream (appsrc);
      break;
    case Reassembler::Event::Error:
      if (!o->warned.exchange (true))
        GST_ELEMENT_WARNING (ctx->self, STREAM, DECODE,
            ("%s: the producer sent a message that is not a data stream's: %s; dropped",
                o->name.c_str (), ev.error.c_str ()), (nullptr));
      break;
    default:
      break;
  }
}

void
on_text (GstWebRTCDataChannel *, const gchar *, gpointer data)
{
  auto *ctx = static_cast<DataCtx *> (data);
  auto o = ctx->output.lock ();
  if (o && !o->warned.exchange (true))
    GST_ELEMENT_WARNING (ctx->self, STREAM, DECODE,
        ("%s: the producer sent a text message on a data stream; dropped", o->name.c_str ()),
        (nullptr));
}

void
free_ctx (gpointer data, GClosure *)
{
  delete static_cast<DataCtx *> (data);
}

// Stops the channel's handlers (so nothing more is pushed).
void
disconnect (DataOutput &o)
{
  for (gulong id : o.handlers)
    g_signal_handler_disconnect (o.channel, id);
  o.handlers.clear ();
}

std::vector<std::shared_ptr<DataOutput>>
copy_data_outputs (State *st)
{
  std::lock_guard<std::mutex> lk (st->lock);
  return st->data_outputs;
}

}  // namespace

void
DataOutput::expose ()
{
  std::lock_guard<std::mutex> lk (exposed_lock);
  exposed = true;
  exposed_cond.notify_all ();
}

DataOutput::~DataOutput ()
{
  if (channel)
    gst_object_unref (channel);
  if (appsrc)
    gst_object_unref (appsrc);
}

bool
claim_data_channel (RtcstreamSrc *self, GstWebRTCDataChannel *channel)
{
  State *st = self->state;
  g_autofree gchar *protocol = nullptr, *label = nullptr;
  gint retransmits = -1, lifetime = -1;
  g_object_get (channel, "protocol", &protocol, "label", &label, "max-retransmits",
      &retransmits, "max-packet-lifetime", &lifetime, nullptr);
  if (g_strcmp0 (protocol, datastream::kProtocol) != 0)
    return false;
  auto o = std::make_shared<DataOutput> ();
  o->fresh = retransmits >= 0 || lifetime >= 0;
  o->channel = static_cast<GstWebRTCDataChannel *> (gst_object_ref (channel));
  // The pad's name: the sender's, when it is one of ours and free.
  guint n = 0;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    bool taken = !label || sscanf (label, "data_%u", &n) != 1;
    for (auto &d : st->data_outputs)
      taken |= d->name == label;
    if (taken) {
      n = st->data_pads;
      for (auto &d : st->data_outputs)
        n = MAX (n, d->index + 1);
    }
    o->index = n;
    o->name = "data_" + std::to_string (n);
    st->data_pads = MAX (st->data_pads, n + 1);
    st->data_outputs.push_back (o);
  }
  GstElement *appsrc = gst_element_factory_make ("appsrc", (o->name + "-src").c_str ());
  o->appsrc = GST_ELEMENT (gst_object_ref_sink (appsrc));
  g_object_set (appsrc, "format", GST_FORMAT_TIME, "is-live", TRUE, "do-timestamp", FALSE,
      "max-bytes", (guint64) 0, nullptr);
  if (o->fresh)
    g_object_set (appsrc, "max-buffers", kFreshBuffers, "leaky-type",
        GST_APP_LEAKY_TYPE_DOWNSTREAM, nullptr);
  gst_bin_add (GST_BIN (self), appsrc);
  gst_element_sync_state_with_parent (appsrc);
  GstPad *src = gst_element_get_static_pad (appsrc, "src");
  gst_pad_add_probe (src,
      (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      on_pushed, new DataCtx{self, o}, [] (gpointer d) { delete static_cast<DataCtx *> (d); });
  GstPadTemplate *templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self),
      "data_%u");
  o->ghost = gst_ghost_pad_new_from_template (o->name.c_str (), src, templ);
  gst_object_unref (src);
  o->handlers.push_back (g_signal_connect_data (channel, "on-message-data",
      G_CALLBACK (on_message), new DataCtx{self, o}, free_ctx, (GConnectFlags) 0));
  o->handlers.push_back (g_signal_connect_data (channel, "on-message-string",
      G_CALLBACK (on_text), new DataCtx{self, o}, free_ctx, (GConnectFlags) 0));
  gst_pad_set_active (o->ghost, TRUE);
  GST_INFO_OBJECT (self, "data stream \"%s\" (%s): pad %s", label ? label : "",
      o->fresh ? "partially reliable" : "reliable", o->name.c_str ());
  gst_element_add_pad (GST_ELEMENT (self), o->ghost);
  o->expose ();
  // We listen: the producer sends nothing before this (what came before
  // our handlers were connected would be lost).
  send_ack (*o, 0);
  return true;
}

void
close_data_channels (RtcstreamSrc *self)
{
  for (auto &o : copy_data_outputs (self->state))
    disconnect (*o);
}

void
finish_data_outputs (RtcstreamSrc *self)
{
  for (auto &o : copy_data_outputs (self->state))
    if (!o->eos.exchange (true))
      gst_app_src_end_of_stream (GST_APP_SRC (o->appsrc));
}

bool
any_data (RtcstreamSrc *self)
{
  for (auto &o : copy_data_outputs (self->state))
    if (o->got_data)
      return true;
  return false;
}

bool
data_outputs_done (RtcstreamSrc *self, bool &any)
{
  for (auto &o : copy_data_outputs (self->state)) {
    if (!gst_pad_is_linked (o->ghost))
      continue;
    any = true;
    if (!o->ended)
      return false;
  }
  return true;
}

void
remove_data_outputs (RtcstreamSrc *self)
{
  std::vector<std::shared_ptr<DataOutput>> outputs;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    outputs.swap (self->state->data_outputs);
    self->state->data_pads = 0;
  }
  for (auto &o : outputs) {
    o->expose ();  // nothing waits for it any more
    disconnect (*o);
    gst_element_remove_pad (GST_ELEMENT (self), o->ghost);
    gst_element_set_state (o->appsrc, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (self), o->appsrc);
  }
}

void
add_data_stats (RtcstreamSrc *self, GstStructure *s)
{
  guint64 bytes = 0, incomplete = 0;
  auto outputs = copy_data_outputs (self->state);
  for (auto &o : outputs) {
    bytes += o->received;
    incomplete += o->reassembler.incomplete ();
  }
  gst_structure_set (s, "data-streams", G_TYPE_UINT, (guint) outputs.size (),
      "data-bytes-received", G_TYPE_UINT64, bytes, "data-buffers-incomplete", G_TYPE_UINT64,
      incomplete, nullptr);
}

}  // namespace rtcstream::src
