// Umbrella header for the reliable-UDP core (include/pdtp/rudp/).
#pragma once

#include "pdtp/rudp/connection.hpp"
#include "pdtp/rudp/endpoint.hpp"
