# embed.cmake - writes the bytes of IN as a NUL-terminated C array NAME into
# OUT (cmake -DIN=... -DOUT=... -DNAME=... -P embed.cmake).
file(READ ${IN} HEX HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${HEX}")
file(WRITE ${OUT} "/* Generated from ${IN} at build time. */\nconst char ${NAME}[] = {${BYTES} 0};\n")
