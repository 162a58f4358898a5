// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Data streams: GstBuffers of any caps carried over a WebRTC data channel,
// one channel per stream (rtcstreamsink's data_%u pads, rtcstreamsrc's
// data_%u pads, rtcstream.js' DataStream). docs/protocol.md ("Data
// streams") is the reference of the wire format; in short, every message is
// binary and starts with a type byte:
//
//   'C' caps: the UTF-8 caps string that follows (empty: no caps), sent
//       before the first buffer and whenever the caps change
//   'B' a fragment of a buffer: a 52-byte header (the type byte included;
//       big-endian: seq u32, offset u64, total size u64, PTS, DTS, duration
//       u64 with G_MAXUINT64 for none, buffer flags u32) and up to 64 KiB -
//       52 bytes of the buffer's data; a buffer is one or more fragments
//   'E' the end of the stream (EOS)
//   'A' (receiver to sender) bytes of buffers consumed so far, u64: the
//       sender keeps at most a window of unacknowledged bytes in flight
//
// The channel's protocol is kProtocol and its label the sender's pad name.
//
// Threads: Reassembler and the message builders are plain code (no GLib
// main loop, no locking): one per channel, used from the thread that
// delivers its messages.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rtcstream::datastream {

// The data channel protocol of a data stream.
constexpr const char *kProtocol = "rtcstream-data/1";
// Every message fits in the 64 KiB all WebRTC stacks take (RFC 8841's default
// max-message-size).
constexpr gsize kMaxMessage = 65536;
constexpr gsize kBufferHeader = 52;
// A buffer bigger than this is refused by the receiver (1 GiB).
constexpr guint64 kMaxBufferSize = G_GUINT64_CONSTANT (1) << 30;
// Bytes a sender keeps unacknowledged (reliable streams): a bound on the
// memory of both ends, and enough to keep a fast link busy.
constexpr guint64 kDefaultWindow = 8 * 1024 * 1024;

enum MessageType : guint8 {
  kCaps = 'C',
  kBuffer = 'B',
  kEos = 'E',
  kAck = 'A',
};

GBytes *caps_message (const std::string &caps);
GBytes *eos_message ();
GBytes *ack_message (guint64 consumed);
// The fragments of a buffer, each at most max_message bytes (at least
// kBufferHeader + 1).
std::vector<GBytes *> buffer_messages (GstBuffer *buffer, guint32 seq,
    gsize max_message = kMaxMessage);

// Caps as they travel; empty for none. False when they do not survive the
// trip (a field that cannot be serialized).
bool serialize_caps (GstCaps *caps, std::string &out);

// The receiving side of one stream: messages in, whole buffers out.
class Reassembler {
public:
  struct Event {
    enum Kind { None, Caps, Buffer, Eos, Ack, Error } kind = None;
    GstCaps *caps = nullptr;      // Caps (transfer full; null: no caps)
    GstBuffer *buffer = nullptr;  // Buffer (transfer full)
    guint64 ack = 0;              // Ack
    std::string error;            // Error: the message was dropped
  };

  Reassembler () = default;
  ~Reassembler ();
  Reassembler (const Reassembler &) = delete;
  Reassembler &operator= (const Reassembler &) = delete;

  Event feed (const guint8 *data, gsize size);
  // A reliable channel loses no fragment: keep every buffer in reassembly
  // (an unordered one may interleave several), instead of the newest few.
  void keep_all () { max_partials_ = G_MAXSIZE; }
  // Buffers given up on (a fragment lost on an unreliable channel).
  guint64 incomplete () const { return incomplete_.load (); }

private:
  struct Partial {
    guint32 seq;
    guint64 total;
    guint64 received = 0;
    GstBuffer *buffer = nullptr;
  };
  // Buffers in reassembly: only one on an ordered reliable channel; on an
  // unreliable one, the newest few (older ones lost a fragment).
  std::deque<Partial> partials_;
  gsize max_partials_ = 4;
  std::atomic<guint64> incomplete_{0};  // read from any thread
};

}  // namespace rtcstream::datastream

namespace rtcstream::datastream {

// The sending end of a stream on one data channel (rtcstreamsink: one per
// data pad and consumer). Made as a shared_ptr; its signal handlers
// (webrtcbin's threads) call wake when it opens, closes, drains below its
// low threshold or gets an acknowledgement.
class Link : public std::enable_shared_from_this<Link> {
public:
  static std::shared_ptr<Link> make (std::string session, GstWebRTCDataChannel *channel,
      GstElement *webrtcbin, std::function<void ()> wake);
  ~Link ();
  Link (const Link &) = delete;
  Link &operator= (const Link &) = delete;

  const std::string &session () const { return session_; }
  GstWebRTCDataChannel *channel () const { return channel_; }
  // The channel is open and the receiver listens (its first
  // acknowledgement came: what is sent before it may be lost).
  bool open () const;
  bool closed () const { return closed_; }
  // Partially reliable (max-retransmits or max-packet-lifetime set).
  bool fresh () const { return fresh_; }
  guint64 buffered () const;
  // Sends a message; false when the channel refused it.
  bool send (GBytes *message);
  // The largest message the peer takes: kMaxMessage, or less when the
  // negotiated max-message-size (webrtcbin's sctp-transport) is smaller.
  // Once open; streaming thread.
  gsize max_message ();

  std::atomic<guint64> sent{0};    // buffer bytes sent (streaming thread)
  std::atomic<guint64> acked{0};   // buffer bytes the receiver consumed
  guint caps_generation = 0;       // the caps it got (streaming thread)
  gint64 blocked_since = 0;        // monotonic us, 0: not blocked (streaming thread)
  bool eos_sent = false;           // (streaming thread)

private:
  Link (std::string session, GstWebRTCDataChannel *channel, GstElement *webrtcbin,
      std::function<void ()> wake);
  static void on_event (GstWebRTCDataChannel *, gpointer data);
  static void on_data (GstWebRTCDataChannel *, GBytes *bytes, gpointer data);
  static void on_closed (GstWebRTCDataChannel *, gpointer data);

  std::string session_;
  GstWebRTCDataChannel *channel_;
  std::function<void ()> wake_;
  GWeakRef webrtcbin_;
  gsize max_message_ = 0;  // 0: not read yet
  bool fresh_ = false;
  std::atomic<bool> closed_{false};
  std::atomic<bool> listening_{false};
  std::vector<gulong> handlers_;
};

// The low threshold set on a sending channel: a sender waits for the
// channel's buffered-amount to fall below it (on-buffered-amount-low).
constexpr guint64 kBufferedLow = 1024 * 1024;

}  // namespace rtcstream::datastream
