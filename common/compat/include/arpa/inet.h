/* arpa/inet.h on Windows: inet_pton, inet_ntop, htons and friends come
 * from Winsock (common/compat/win32.h includes it first). */
#include <ws2tcpip.h>
