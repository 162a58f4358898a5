// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What rtcstreamsink and rtcstreamsrc share: the properties both have, the
// URI handling, and making the default signaller from a URI.
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

#include "rtcstream/codecs.h"
#include "rtcstream/ref.h"
#include "rtcstream/session.h"
#include "rtcstream/signaller.h"

namespace rtcstream {

enum CommonProp : guint {
  PROP_URI = 1,
  PROP_STUN_SERVER,
  PROP_TURN_SERVERS,
  PROP_SIGNALLER,
  PROP_VIDEO_CODECS,
  PROP_AUDIO_CODECS,
  PROP_COMMON_LAST,
};

// Settings of one element. Guarded by the element's object lock.
struct CommonSettings {
  std::string uri;
  std::string stream_name;   // from the URI
  std::string ws_url;        // from the URI
  std::string stun_server;
  std::vector<std::string> turn_servers;
  Ref<RtcstreamSignaller> signaller;
  bool signaller_from_app = false;
  std::vector<const Codec *> video_codecs;
  std::vector<const Codec *> audio_codecs;
  // A bad uri or codec list, kept to fail with at start: a warning posted
  // while gst-launch still parses the line is never shown.
  std::string uri_error;
  std::string codec_error[2];  // per MediaKind
};

void install_common_properties (GObjectClass *klass, const char *role_word);
void init_common_settings (CommonSettings &s);
// Return true if prop_id was one of ours.
bool set_common_property (GstElement *element, CommonSettings &s, guint prop_id,
    const GValue *value);
bool get_common_property (const CommonSettings &s, guint prop_id, GValue *value);

// Applies a rtcstream:// URI; on failure fills error.
bool apply_uri (CommonSettings &s, const char *uri, std::string &error);

// Makes the default signaller (ours, over websocket) when the application
// set none. Returns null with error filled when no URI was given.
RtcstreamSignaller *ensure_signaller (CommonSettings &s, RtcstreamRole role,
    std::string &error);

IceConfig ice_config (const CommonSettings &s);

extern const gchar *const uri_protocols[];

}  // namespace rtcstream
