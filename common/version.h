/* version: the release both programs report. */
#ifndef EDUWATCH_VERSION_H
#define EDUWATCH_VERSION_H

#define EDUWATCH_VERSION "0.1.0"

#endif
