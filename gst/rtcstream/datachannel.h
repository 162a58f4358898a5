// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Data channels of one element, per session, and the navigation messages
// that travel on them.
//
// Two channels, both opened by the side that offers (normally the producer):
//  "data"   application messages, text or binary, both ways;
//  "input"  navigation: mouse and keyboard events from a viewer (a browser's
//           video element, or rtcstreamsrc forwarding its downstream's
//           GstNavigation events) to the producer, one JSON text per event.
// docs/protocol.md describes the navigation JSON.
//
// Threads: webrtcbin's data channel signals fire on its SCTP threads; every
// handler here is bounced to the owner's Worker. send_* may be called from
// any thread and never block.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rtcstream/ref.h"
#include "rtcstream/worker.h"

namespace rtcstream {

constexpr const char *kDataChannelLabel = "data";
constexpr const char *kInputChannelLabel = "input";

class DataChannels {
public:
  struct Handlers {
    // The "data" channel of a session opened.
    std::function<void (const std::string &session)> opened;
    // A message on "data": text is set for text messages, bytes for binary.
    std::function<void (const std::string &session, const std::string *text, GBytes *bytes)>
        message;
    // A text message on "input".
    std::function<void (const std::string &session, const std::string &text)> input;
  };

  DataChannels (std::shared_ptr<Worker> worker, Handlers handlers);
  ~DataChannels ();

  DataChannels (const DataChannels &) = delete;
  DataChannels &operator= (const DataChannels &) = delete;

  // Creates a channel with this label on a webrtcbin (before its offer).
  // Returns false when webrtcbin refused.
  bool create (const std::string &session, GstElement *webrtcbin, const char *label);
  // Adopts a channel announced by the remote side (webrtcbin's on-data-channel).
  void adopt (const std::string &session, GstWebRTCDataChannel *channel);
  // Forgets every channel of a session (they close with the webrtcbin).
  void remove_session (const std::string &session);
  void clear ();

  // Sends on the open "data" channel of one session, or of every session when
  // session is empty. Returns how many channels took the message.
  guint send_text (const std::string &session, const std::string &text);
  guint send_binary (const std::string &session, GBytes *bytes);
  // Sends on the open "input" channels of every session.
  guint send_input (const std::string &text);

  // Sessions whose "data" channel is open.
  std::vector<std::string> open_sessions () const;

private:
  struct Channel;
  static void on_open (GstWebRTCDataChannel *ch, gpointer data);
  static void on_string (GstWebRTCDataChannel *ch, const gchar *text, gpointer data);
  static void on_data (GstWebRTCDataChannel *ch, GBytes *bytes, gpointer data);
  void track (const std::string &session, GstWebRTCDataChannel *channel);
  guint send (const std::string &session, const char *label,
      const std::function<void (GstWebRTCDataChannel *)> &fn);

  std::shared_ptr<Worker> worker_;
  Handlers handlers_;
  // The handlers' context: outlives every signal connection (disconnected in
  // remove_session / clear) and tells late bounces that we are gone.
  std::shared_ptr<DataChannels *> alive_;
  mutable std::mutex lock_;
  std::multimap<std::string, std::unique_ptr<Channel>> channels_;
};

// --- navigation messages ---------------------------------------------------------

// The JSON text of a GstNavigation event, with the frame size its coordinates
// refer to (0 when unknown). Empty for events we do not carry.
std::string navigation_to_json (GstEvent *event, int width, int height);

// A GstNavigation event from a JSON text, its coordinates scaled from the
// frame size the sender saw to width x height (when both are known). Returns
// null and sets error when the message is not a navigation event we know.
GstEvent *navigation_from_json (const std::string &text, int width, int height,
    std::string &error);

}  // namespace rtcstream
