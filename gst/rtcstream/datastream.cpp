// SPDX-License-Identifier: LGPL-2.1-or-later
#include "rtcstream/datastream.h"

#include <cstring>

namespace rtcstream::datastream {

namespace {

guint64
time_out (GstClockTime t)
{
  return GST_CLOCK_TIME_IS_VALID (t) ? t : G_MAXUINT64;
}

// The buffer flags that travel: the stream's (DISCONT, DELTA_UNIT, HEADER,
// GAP, MARKER, ...), not the memory's or the mini object's.
constexpr guint32 kFlagsCarried = 0xffff0 & ~(guint32) GST_BUFFER_FLAG_TAG_MEMORY;

}  // namespace

GBytes *
caps_message (const std::string &caps)
{
  auto *data = static_cast<guint8 *> (g_malloc (1 + caps.size ()));
  data[0] = kCaps;
  memcpy (data + 1, caps.data (), caps.size ());
  return g_bytes_new_take (data, 1 + caps.size ());
}

GBytes *
eos_message ()
{
  static const guint8 eos = kEos;
  return g_bytes_new (&eos, 1);
}

GBytes *
ack_message (guint64 consumed)
{
  guint8 data[9];
  data[0] = kAck;
  GST_WRITE_UINT64_BE (data + 1, consumed);
  return g_bytes_new (data, sizeof data);
}

std::vector<GBytes *>
buffer_messages (GstBuffer *buffer, guint32 seq, gsize max_message)
{
  std::vector<GBytes *> out;
  const gsize total = gst_buffer_get_size (buffer);
  const gsize chunk = MAX (max_message, kBufferHeader + 1) - kBufferHeader;
  guint8 header[kBufferHeader] = {0};
  header[0] = kBuffer;
  GST_WRITE_UINT32_BE (header + 4, seq);
  GST_WRITE_UINT64_BE (header + 16, total);
  GST_WRITE_UINT64_BE (header + 24, time_out (GST_BUFFER_PTS (buffer)));
  GST_WRITE_UINT64_BE (header + 32, time_out (GST_BUFFER_DTS (buffer)));
  GST_WRITE_UINT64_BE (header + 40, time_out (GST_BUFFER_DURATION (buffer)));
  GST_WRITE_UINT32_BE (header + 48, GST_BUFFER_FLAGS (buffer) & kFlagsCarried);
  gsize offset = 0;
  do {
    gsize n = MIN (chunk, total - offset);
    auto *data = static_cast<guint8 *> (g_malloc (kBufferHeader + n));
    memcpy (data, header, kBufferHeader);
    GST_WRITE_UINT64_BE (data + 8, offset);
    gst_buffer_extract (buffer, offset, data + kBufferHeader, n);
    out.push_back (g_bytes_new_take (data, kBufferHeader + n));
    offset += n;
  } while (offset < total);
  return out;
}

bool
serialize_caps (GstCaps *caps, std::string &out)
{
  out.clear ();
  if (!caps)
    return true;
  g_autofree gchar *s = gst_caps_serialize (caps, GST_SERIALIZE_FLAG_NONE);
  GstCaps *back = s ? gst_caps_from_string (s) : nullptr;
  bool ok = back && gst_caps_is_equal (back, caps);
  if (back)
    gst_caps_unref (back);
  if (ok)
    out = s;
  return ok;
}

Reassembler::~Reassembler ()
{
  for (Partial &p : partials_)
    gst_buffer_unref (p.buffer);
}

Reassembler::Event
Reassembler::feed (const guint8 *data, gsize size)
{
  Event ev;
  auto fail = [&ev] (std::string why) -> Event {
    ev.kind = Event::Error;
    ev.error = std::move (why);
    return ev;
  };
  if (size == 0)
    return fail ("an empty message");
  switch (data[0]) {
    case kCaps: {
      ev.kind = Event::Caps;
      if (size > 1) {
        std::string s (reinterpret_cast<const char *> (data + 1), size - 1);
        ev.caps = gst_caps_from_string (s.c_str ());
        if (!ev.caps)
          return fail ("caps that do not parse: " + s);
      }
      return ev;
    }
    case kEos:
      ev.kind = Event::Eos;
      return ev;
    case kAck:
      if (size != 9)
        return fail ("an acknowledgement of " + std::to_string (size) + " bytes");
      ev.kind = Event::Ack;
      ev.ack = GST_READ_UINT64_BE (data + 1);
      return ev;
    case kBuffer:
      break;
    default:
      return fail ("a message of unknown type " + std::to_string (data[0]));
  }
  if (size < kBufferHeader)
    return fail ("a buffer fragment shorter than its header");
  const guint32 seq = GST_READ_UINT32_BE (data + 4);
  const guint64 offset = GST_READ_UINT64_BE (data + 8), total = GST_READ_UINT64_BE (data + 16);
  const gsize n = size - kBufferHeader;
  if (total > kMaxBufferSize)
    return fail ("a buffer of " + std::to_string (total) + " bytes (at most " +
        std::to_string (kMaxBufferSize) + ")");
  if (offset > total || n > total - offset)
    return fail ("a fragment outside its buffer");

  Partial *p = nullptr;
  for (Partial &q : partials_)
    if (q.seq == seq)
      p = &q;
  if (!p) {
    // Keep the newest few: on an ordered reliable channel the previous one
    // is complete; on an unreliable one a buffer still waiting for a
    // fragment four buffers later lost it.
    while (partials_.size () >= max_partials_) {
      gst_buffer_unref (partials_.front ().buffer);
      partials_.pop_front ();
      incomplete_++;
    }
    GstBuffer *buf = gst_buffer_new_allocate (nullptr, total, nullptr);
    if (!buf)
      return fail ("no memory for a buffer of " + std::to_string (total) + " bytes");
    auto time_in = [] (guint64 v) { return v == G_MAXUINT64 ? GST_CLOCK_TIME_NONE : v; };
    GST_BUFFER_PTS (buf) = time_in (GST_READ_UINT64_BE (data + 24));
    GST_BUFFER_DTS (buf) = time_in (GST_READ_UINT64_BE (data + 32));
    GST_BUFFER_DURATION (buf) = time_in (GST_READ_UINT64_BE (data + 40));
    GST_BUFFER_FLAG_SET (buf, GST_READ_UINT32_BE (data + 48) & kFlagsCarried);
    partials_.push_back ({seq, total, 0, buf});
    p = &partials_.back ();
  } else if (p->total != total) {
    return fail ("fragments of one buffer disagree on its size");
  }
  if (n > 0)
    gst_buffer_fill (p->buffer, offset, data + kBufferHeader, n);
  p->received += n;
  if (p->received < p->total)
    return ev;
  ev.kind = Event::Buffer;
  ev.buffer = p->buffer;
  for (auto it = partials_.begin (); it != partials_.end (); ++it) {
    if (&*it == p) {
      partials_.erase (it);
      break;
    }
  }
  return ev;
}

}  // namespace rtcstream::datastream

namespace rtcstream::datastream {

namespace {

struct LinkCtx {
  std::weak_ptr<Link> link;
};

}  // namespace

std::shared_ptr<Link>
Link::make (std::string session, GstWebRTCDataChannel *channel, GstElement *webrtcbin,
    std::function<void ()> wake)
{
  std::shared_ptr<Link> l (new Link (std::move (session), channel, webrtcbin, std::move (wake)));
  auto connect = [&] (const char *signal, GCallback cb) {
    l->handlers_.push_back (g_signal_connect_data (channel, signal, cb, new LinkCtx{l},
        [] (gpointer d, GClosure *) { delete static_cast<LinkCtx *> (d); },
        (GConnectFlags) 0));
  };
  connect ("on-open", G_CALLBACK (on_event));
  connect ("on-buffered-amount-low", G_CALLBACK (on_event));
  connect ("on-close", G_CALLBACK (on_closed));
  connect ("on-error", G_CALLBACK (on_closed));
  connect ("on-message-data", G_CALLBACK (on_data));
  return l;
}

Link::Link (std::string session, GstWebRTCDataChannel *channel, GstElement *webrtcbin,
    std::function<void ()> wake)
    : session_ (std::move (session)),
      channel_ (static_cast<GstWebRTCDataChannel *> (gst_object_ref (channel))),
      wake_ (std::move (wake))
{
  g_weak_ref_init (&webrtcbin_, webrtcbin);
  gint retransmits = -1, lifetime = -1;
  g_object_get (channel, "max-retransmits", &retransmits, "max-packet-lifetime", &lifetime,
      nullptr);
  fresh_ = retransmits >= 0 || lifetime >= 0;
  g_object_set (channel, "buffered-amount-low-threshold", kBufferedLow, nullptr);
}

Link::~Link ()
{
  for (gulong id : handlers_)
    g_signal_handler_disconnect (channel_, id);
  gst_object_unref (channel_);
  g_weak_ref_clear (&webrtcbin_);
}

gsize
Link::max_message ()
{
  if (max_message_)
    return max_message_;
  guint64 negotiated = 0;
  if (GstElement *w = static_cast<GstElement *> (g_weak_ref_get (&webrtcbin_))) {
    GObject *transport = nullptr;
    g_object_get (w, "sctp-transport", &transport, nullptr);
    if (transport) {
      g_object_get (transport, "max-message-size", &negotiated, nullptr);
      g_object_unref (transport);
    }
    gst_object_unref (w);
  }
  // Not negotiated yet (0): the default, without keeping it.
  if (negotiated == 0)
    return kMaxMessage;
  max_message_ = MAX (kBufferHeader + 1, MIN (kMaxMessage, negotiated));
  return max_message_;
}

bool
Link::open () const
{
  GstWebRTCDataChannelState state;
  g_object_get (channel_, "ready-state", &state, nullptr);
  return state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN && listening_ && !closed_;
}

guint64
Link::buffered () const
{
  guint64 amount = 0;
  g_object_get (channel_, "buffered-amount", &amount, nullptr);
  return amount;
}

bool
Link::send (GBytes *message)
{
  GError *err = nullptr;
  if (gst_webrtc_data_channel_send_data_full (channel_, message, &err))
    return true;
  g_clear_error (&err);
  return false;
}

void
Link::on_event (GstWebRTCDataChannel *, gpointer data)
{
  if (auto l = static_cast<LinkCtx *> (data)->link.lock ())
    l->wake_ ();
}

void
Link::on_closed (GstWebRTCDataChannel *, gpointer data)
{
  if (auto l = static_cast<LinkCtx *> (data)->link.lock ()) {
    l->closed_ = true;
    l->wake_ ();
  }
}

void
Link::on_data (GstWebRTCDataChannel *, GBytes *bytes, gpointer data)
{
  auto l = static_cast<LinkCtx *> (data)->link.lock ();
  gsize size = 0;
  auto *p = static_cast<const guint8 *> (g_bytes_get_data (bytes, &size));
  if (!l || size != 9 || p[0] != kAck)
    return;
  guint64 consumed = GST_READ_UINT64_BE (p + 1);
  l->listening_ = true;
  // Acknowledgements only grow (an old one may arrive late on an unordered
  // channel).
  guint64 prev = l->acked.load ();
  while (consumed > prev && !l->acked.compare_exchange_weak (prev, consumed)) {
  }
  l->wake_ ();
}

}  // namespace rtcstream::datastream
